"""Machine-readable refusals of a page: robots directives (X-Robots-Tag header, <meta name="robots">) and robots.txt.

- Directives: a comma-separated list (`noai, noimageai`); an X-Robots-Tag line may start with a user agent
  (`GPTBot: noindex`, Google's syntax), and then applies only to that agent. A meta tag named `robots` applies to all,
  one named after an agent (`<meta name="GPTBot" content="noindex">`) to that agent. `none` means `noindex, nofollow`.
  `noai`/`noimageai` come from DeviantArt's 2022 proposal, not from a standard; `noindex` from the robots meta spec.
- robots.txt (RFC 9309): a host's file is parsed by Protego (the parser Scrapy uses), once per host and worker, and
  asked `can_fetch(url, agent)`; files are decoded as UTF-8 with a leading byte-order mark dropped (Google's robots.txt
  specification ignores one; Protego would not). Files come from a folder of `<host>.txt` files or from WARC captures of robots.txt
  (Common Crawl publishes one robots.txt WARC per segment). For a capture, RFC 9309 §2.3.1 decides what the status
  means: 2xx -> the body's rules; 4xx (and a redirect, whose target is not followed here) -> no restriction;
  5xx -> complete disallow. A host with no file is not restricted. AI crawler agents and the share of top domains that
  block them: Longpre et al. 2024, "Consent in Crisis: The Rapid Decline of the AI Data Commons".
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from protego import Protego

# The AI crawlers whose robots.txt rules the stage checks by default (Longpre et al. 2024 audit these, among others).
AI_AGENTS = ("GPTBot", "CCBot", "Google-Extended", "anthropic-ai", "ClaudeBot")
DISALLOW_ALL = "User-agent: *\nDisallow: /\n"

# Both read lower-cased pages. An attribute name starts only where no name character precedes it, and its runs are
# possessive: a long run of name characters is tried once, not once per position (which took 204 s on 80 KB).
_META_OPEN = re.compile(rb"<meta\b")
_ATTRIBUTE = re.compile(rb"""(?<![a-z0-9_:\-])([a-z][a-z0-9_:\-]*+)\s*+=\s*+("[^"]*"|'[^']*'|[^\s"'>]++)""")
_AGENT_PREFIX = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_.\-]*)\s*:\s*(.*)$")
# Directives that carry a value after a colon: their name is not a user agent.
_VALUED = {"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"}


def _directives(values: str) -> set[str]:
    out = set()
    for value in values.split(","):
        word = value.strip().lower()
        if word == "none":
            out |= {"noindex", "nofollow"}
        elif word:
            out.add(word)
    return out


def header_directives(header: str | None, agents: Iterable[str]) -> set[str]:
    """The directives of an X-Robots-Tag value (one header a line) that apply to any of `agents` or to all."""
    if not header:
        return set()
    wanted = {a.lower() for a in agents}
    out: set[str] = set()
    for line in header.splitlines():
        prefixed = _AGENT_PREFIX.match(line)
        if prefixed and prefixed.group(1).lower() not in _VALUED:
            if prefixed.group(1).lower() in wanted:
                out |= _directives(prefixed.group(2))
        else:
            out |= _directives(line)
    return out


def meta_directives(html: bytes | None, agents: Iterable[str]) -> set[str]:
    """The directives of the page's <meta name="robots"> tags and of meta tags named after one of `agents`."""
    if not html:
        return set()
    lowered = html.lower()
    names = {b"robots", *(a.lower().encode() for a in agents)}
    if not any(name in lowered for name in names):  # most pages: no tag to parse
        return set()
    out: set[str] = set()
    for tag in _meta_tags(lowered):
        attributes = {k: v.strip(b"\"'") for k, v in _ATTRIBUTE.findall(tag)}
        if attributes.get(b"name", b"").strip() in names and b"content" in attributes:
            out |= _directives(attributes[b"content"].decode("utf-8", "replace"))
    return out


def _meta_tags(lowered: bytes):
    """Each `<meta …>` tag of a lower-cased page, up to its first `>`: every byte is scanned once (a tag that never
    closes ends the scan: no later one can close either)."""
    end = 0
    for opening in _META_OPEN.finditer(lowered):
        if opening.start() < end:  # inside the tag before
            continue
        end = lowered.find(b">", opening.end())
        if end < 0:
            return
        yield lowered[opening.start():end + 1]


def host_of(url: str | None) -> str:
    try:
        return (urlsplit(url).hostname or "").rstrip(".") if url else ""
    except ValueError:
        return ""


class RobotsTable:
    """host -> its robots.txt, parsed by Protego on the host's first page and kept (one parse per host and worker)."""

    def __init__(self, files: dict[str, str]):
        self._rules: dict[str, str | Protego] = files

    @classmethod
    def load(cls, paths: Iterable[str]) -> RobotsTable:
        files: dict[str, str] = {}
        rank: dict[str, int] = {}
        for path in paths:
            root = Path(path)
            for file in sorted(root.rglob("*")) if root.is_dir() else [root]:
                if not file.is_file():
                    continue
                if file.name.endswith((".warc", ".warc.gz")):
                    for host, status, body in _warc_captures(file):
                        _keep(files, rank, host, status, body)
                elif file.suffix == ".txt":
                    _keep(files, rank, file.stem.lower(), 200, file.read_text("utf-8-sig", errors="replace"))
        return cls(files)

    def __len__(self) -> int:
        return len(self._rules)

    def refusing_agent(self, url: str, agents: Iterable[str]) -> str | None:
        """The first of `agents` the URL's host's robots.txt disallows it to (None: all may fetch it)."""
        host = host_of(url)
        rules = self._rules.get(host)
        if rules is None:
            return None
        if isinstance(rules, str):
            rules = self._rules[host] = Protego.parse(rules)
        return next((agent for agent in agents if not rules.can_fetch(url, agent)), None)


def _keep(files: dict[str, str], rank: dict[str, int], host: str, status: int, body: str) -> None:
    """Record a host's robots.txt by RFC 9309's reading of its status; a success outranks an error, and the first
    capture of a rank is kept."""
    if not host:
        return
    if 200 <= status < 300:
        order, rules = 0, body
    elif status >= 500:
        order, rules = 1, DISALLOW_ALL
    else:
        order, rules = 2, ""
    if order < rank.get(host, 3):
        files[host], rank[host] = rules, order


def _warc_captures(path: Path):
    """(host, HTTP status, body) of every response record of a robots.txt WARC."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    with open(path, "rb") as stream:  # fastwarc detects the gzip members itself
        for record in ArchiveIterator(stream, record_types=WarcRecordType.response, parse_http=True):
            host = host_of(record.headers.get("WARC-Target-URI"))
            status = record.http_headers.status_code if record.http_headers is not None else 0
            yield host, status or 0, record.reader.read().decode("utf-8-sig", errors="replace")
