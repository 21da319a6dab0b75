"""Machine-readable refusals of a page: robots directives (X-Robots-Tag header, <meta name="robots">) and robots.txt.

- Directives: a comma-separated list (`noai, noimageai`); an X-Robots-Tag line may start with a user agent
  (`GPTBot: noindex`, Google's syntax), and then applies only to that agent. A meta tag named `robots` applies to all,
  one named after an agent (`<meta name="GPTBot" content="noindex">`) to that agent. `none` means `noindex, nofollow`.
  `noai`/`noimageai` come from DeviantArt's 2022 proposal, not from a standard; `noindex` from the robots meta spec.
- robots.txt (RFC 9309): a host's file is parsed by Protego (the parser Scrapy uses), once per host and worker, and
  asked `can_fetch(url, agent)`; files are decoded as UTF-8 with a leading byte-order mark dropped (Google's robots.txt
  specification ignores one; Protego would not). Only the first ROBOTS_MAX_BYTES of a file are read, as Google does,
  and what was cut is counted per host. Hosts are compared as browsers map them (filters/urls.py: UTS #46), so the
  file of `xn--bcher-kva.de` applies to `http://bücher.de/`. For a capture, RFC 9309 §2.3.1 decides what the status
  means: 2xx -> the body's rules; 4xx (and a redirect, whose target is not followed here) -> no restriction;
  5xx -> complete disallow. A host with no file is not restricted. AI crawler agents and the share of top domains that
  block them: Longpre et al. 2024, "Consent in Crisis: The Rapid Decline of the AI Data Commons".
"""
from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable

from protego import Protego

from curate.filters.urls import host_key, host_of

# The AI crawlers whose robots.txt rules the stage checks by default (Longpre et al. 2024 audit these, among others).
AI_AGENTS = ("GPTBot", "CCBot", "Google-Extended", "anthropic-ai", "ClaudeBot")
DISALLOW_ALL = "User-agent: *\nDisallow: /\n"
# Google reads the first 500 KiB of a robots.txt and ignores the rest; RFC 9309 §2.5 asks crawlers to read at least
# that much. A file of wildcard rules that size costs Protego about 33 MB and a URL about 10 ms to match.
ROBOTS_MAX_BYTES = 500 * 1024
# The text of the parsed files a worker keeps (see RobotsTable).
PARSED_BYTES = 4 << 20

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


class RobotsTable:
    """host -> its robots.txt, at most `max_bytes` of it, parsed by Protego on the host's first page.

    Parsed files are kept while their text totals under PARSED_BYTES (least recently used ones dropped, and parsed
    again when their host comes back): Protego holds about 65 bytes per byte of a file of wildcard rules, so a
    worker's memory is bounded by this budget, not by the number of hosts."""

    def __init__(self, max_bytes: int = ROBOTS_MAX_BYTES):
        self.max_bytes = max_bytes
        self.cut: dict[str, int] = {}  # host -> bytes of its robots.txt past max_bytes, not read
        self._files: dict[str, str] = {}
        self._rank: dict[str, int] = {}
        self._parsed: OrderedDict[str, Protego] = OrderedDict()
        self._parsed_bytes = 0

    def __len__(self) -> int:
        return len(self._files)

    def add(self, host: str, status: int, body: bytes, size: int | None = None) -> None:
        """One capture of a host's robots.txt (`size`: the whole file's, when `body` is only its start), read as RFC
        9309 §2.3.1 says: 2xx, the body's rules; 4xx (and a redirect, not followed here), no restriction; 5xx,
        complete disallow. A success outranks an error; the first capture of a rank is kept."""
        host = host_key(host)
        if not host:
            return
        dropped = 0
        if 200 <= status < 300:
            kept = capped(body, self.max_bytes)
            order, rules = 0, kept.decode("utf-8-sig", errors="replace")
            dropped = (size if size is not None else len(body)) - len(kept)
        elif status >= 500:
            order, rules = 1, DISALLOW_ALL
        else:
            order, rules = 2, ""
        if order < self._rank.get(host, 3):
            self._files[host], self._rank[host] = rules, order
            self.cut.pop(host, None)
            if dropped > 0:
                self.cut[host] = dropped

    def refusing_agent(self, url: str, agents: Iterable[str]) -> str | None:
        """The first of `agents` the URL's host's robots.txt disallows it to (None: all may fetch it)."""
        host = host_of(url)
        if host not in self._files:
            return None
        rules = self._rules(host)
        if "://" not in url:  # www.x.com/p, //x.com/p: completed as a browser completes them, so the path is a path
            url = "http://" + url.strip().lstrip("/")
        verdicts: dict[int, bool] = {}  # by the agent group that applies: one match per group, not one per agent
        for agent in agents:
            # Protego's own choice of group (protego==0.7.0, pinned): agents that fall to the same group (often
            # all of them to `*`) get the same answer, so a URL is matched against a group's rules once
            group = id(rules._get_matching_rule_set(agent))
            if group not in verdicts:
                verdicts[group] = rules.can_fetch(url, agent)
            if not verdicts[group]:
                return agent
        return None

    def _rules(self, host: str) -> Protego:
        rules = self._parsed.get(host)
        if rules is not None:
            self._parsed.move_to_end(host)
            return rules
        text = self._files[host]
        rules = self._parsed[host] = Protego.parse(text)
        self._parsed_bytes += len(text)
        while self._parsed_bytes > PARSED_BYTES and len(self._parsed) > 1:
            dropped, _ = self._parsed.popitem(last=False)
            self._parsed_bytes -= len(self._files[dropped])
        return rules


def capped(body: bytes, max_bytes: int) -> bytes:
    """The first `max_bytes` of a robots.txt, ending after its last whole line (a rule cut in two would be another
    rule: `Disallow: /private` read as `Disallow: /p`)."""
    if len(body) <= max_bytes:
        return body
    head = body[:max_bytes]
    return head[:max(head.rfind(b"\n"), head.rfind(b"\r")) + 1]
