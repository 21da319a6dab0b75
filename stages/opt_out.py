"""opt_out: rejects pages whose owners refuse machine use — robots directives in the X-Robots-Tag header or a
<meta name="robots"> tag, and robots.txt rules against AI crawlers. Runs before extraction (it reads the page).

Rules, in this order: `x_robots_tag:<directive>` and `meta_robots:<directive>` for a directive listed in `refuse`
(applying to all agents or to one of `agents`); `robots:<agent>` for the first of `agents` the host's robots.txt
disallows the URL to (filters/opt_out.py: parsing, agents, RFC 9309's status rules). The robots.txt files are read
once per worker (in `setup`), `robots_max_bytes` of each, and each host's file parsed on its first page. A page with
no header, no meta tag and no robots.txt is kept.

What reading the robots sources met is the stage's result (the manifest's `<stage id>` section, the report's lines):
the files cut at `robots_max_bytes`, the robots WARCs that are cut short or whose records cannot be framed (each
named, with its captures that could not be read), and the entries of a folder that are no regular file.
"""
from __future__ import annotations

import os
import stat
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from curate.filters.opt_out import AI_AGENTS, ROBOTS_MAX_BYTES, RobotsTable, header_directives, meta_directives
from curate.filters.urls import host_of
from curate.pipeline.errors import CurateError
from curate.pipeline.ledger import ReaderLedger
from curate.readers.warc import responses
from curate.pipeline.registry import register
from curate.pipeline.sections import Report
from curate.pipeline.output import Folder
from curate.pipeline.stage import Collector, Facts, Params, Partial, Stage, emit

# Hosts and files named in the result (the counts count them all).
LISTED = 20

Directive = Literal["noai", "noimageai", "noindex"]


class OptOutParams(Params):
    refuse: list[Directive] = Field(["noai", "noimageai"],
                                    description="robots directives that reject a page (noai, noimageai, noindex)")
    header: bool = Field(True, description="honour the X-Robots-Tag response header (column x_robots_tag)")
    meta: bool = Field(True, description="honour <meta name=robots> and meta tags named after an agent (needs html)")
    robots: list[str] = Field([],
                              description="robots.txt sources: <host>.txt files, folders of them, robots.txt WARCs")
    agents: list[str] = Field(list(AI_AGENTS), min_length=1,
                              description="user agents checked in robots.txt and agent-specific directives")
    robots_max_bytes: int = Field(ROBOTS_MAX_BYTES, ge=1024,
                                  description="bytes read of each robots.txt, as Google reads 500 KiB; the rest is "
                                              "ignored and counted in the result")

    @field_validator("agents")
    @classmethod
    def _named(cls, agents: list[str]) -> list[str]:
        for number, agent in enumerate(agents):
            if not agent.strip():
                raise ValueError(f"entry {number} is empty: name a user agent (GPTBot, CCBot, …)")
        return agents

    @model_validator(mode="after")
    def _something_to_do(self) -> OptOutParams:
        if not self.robots and not ((self.header or self.meta) and self.refuse):
            raise ValueError("nothing to honour: give robots files, or header/meta with directives in refuse")
        return self


def robots_text(run, stages: list[Stage]) -> list[str]:
    """Console lines: robots.txt files cut at the limit, robots WARCs that could not be read whole."""
    lines = []
    for stage in stages:
        facts = run.manifest.get(stage.id, {}).get("robots")
        if not facts:
            continue
        cut = facts["cut"]
        lines.append(f"{stage.id}: {facts['hosts']:,} hosts' robots.txt from {facts['files']:,} file(s)")
        if cut["files"]:
            lines.append(f"{stage.id}: {cut['files']:,} robots.txt cut at {facts['max_bytes']:,} bytes "
                         f"({cut['bytes_not_read']:,} bytes not read): {', '.join(cut['hosts'])}")
        for entry in facts["unread"]:
            lost = ", ".join(f"{n} {why}" for why, n in entry["captures_lost"].items()) or "none"
            lines.append(f"{stage.id}: robots WARC {entry['file']} not read whole: {entry['error'] or 'records lost'}"
                         f" (captures lost: {lost})")
        if facts["skipped"]:
            lines.append(f"{stage.id}: left out, not regular files: {', '.join(facts['skipped'])}")
    return lines


@register
class OptOut(Stage):
    """Opt-out: X-Robots-Tag and meta robots directives (noai, noimageai, noindex) and robots.txt for AI crawlers."""

    name = "opt_out"
    files = ("robots",)
    Params = OptOutParams
    report = Report(text=robots_text)

    def requires(self) -> tuple[str, ...]:
        p = self.params
        return ("url", *(("x_robots_tag",) if p.header else ()), *(("html",) if p.meta else ()))

    def setup(self) -> None:
        try:
            self.robots, self.sources = load_robots(self.params.robots, self.params.robots_max_bytes)
        except OSError as error:
            raise CurateError(f"opt_out: cannot read robots.txt files ({error})") from None

    def collector(self, folder: Folder, tag: str) -> Collector:
        return RobotsFacts(self)

    def result(self, partials: list[dict | None], output, run: Facts) -> dict[str, Any]:
        """What reading the robots sources met, as one worker saw it (every worker reads the same sources)."""
        facts = next((p for p in partials if p), None)
        return {self.id: {"robots": facts}} if facts else {}

    def decide(self, urls: list[str | None], headers: list[str | None], pages: list[bytes | None]) -> list[str | None]:
        """The reject rule of each page (None = kept)."""
        p = self.params
        refused = [d for d in ("noai", "noimageai", "noindex") if d in p.refuse]
        reasons: list[str | None] = []
        for url, header, page in zip(urls, headers, pages):
            found = header_directives(header, p.agents) if p.header else set()
            reason = next((f"x_robots_tag:{d}" for d in refused if d in found), None)
            if reason is None and p.meta:
                found = meta_directives(page, p.agents)
                reason = next((f"meta_robots:{d}" for d in refused if d in found), None)
            if reason is None and len(self.robots) and url:
                agent = self.robots.refusing_agent(url, p.agents)
                reason = f"robots:{agent}" if agent else None
            reasons.append(reason)
        return reasons

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        nothing = [None] * batch.num_rows
        headers = batch.column("x_robots_tag").to_pylist() if self.params.header else nothing
        pages = batch.column("html").to_pylist() if self.params.meta else nothing
        return emit(batch, self.decide(batch.column("url").to_pylist(), headers, pages))


class RobotsFacts(Collector):
    """Hands on what the worker met reading the robots sources (nothing when no row reached the stage there)."""

    def __init__(self, stage: OptOut):
        self.stage = stage

    def close(self) -> Partial:
        return Partial(getattr(self.stage, "sources", None))


def load_robots(paths: list[str], max_bytes: int) -> tuple[RobotsTable, dict]:
    """The host table of every robots.txt the sources hold, and what reading them met: `files` read, `hosts`,
    `cut` (files past `max_bytes`: count, bytes not read, the first hosts), `unread` (robots WARCs cut short or with
    records that cannot be framed: the file, its error, the captures lost by reason) and `skipped` (folder entries
    that are no regular file: a FIFO would block the worker)."""
    table = RobotsTable(max_bytes)
    files, unread, skipped = 0, [], []
    for path in paths:
        root = Path(path)
        for file in sorted(root.rglob("*")) if root.is_dir() else [root]:
            if not file.name.endswith((".warc", ".warc.gz", ".warc.zst", ".txt")):
                continue
            try:
                mode = os.stat(file).st_mode
            except FileNotFoundError:  # a link to nothing
                mode = 0
            if not stat.S_ISREG(mode):
                if not stat.S_ISDIR(mode):
                    skipped.append(str(file))
                continue
            files += 1
            if file.name.endswith(".txt"):
                with open(file, "rb") as f:
                    table.add(file.stem, 200, f.read(max_bytes + 1), size=os.fstat(f.fileno()).st_size)
                continue
            ledger, lost = ReaderLedger(str(file)), Counter()
            for url, status, body, reason in responses(str(file), ledger):
                if reason is None:
                    table.add(host_of(url), status, body)
                else:
                    lost[reason.split(":")[1] if reason.count(":") else reason] += 1
            if ledger.error or lost:
                unread.append({"file": str(file), "error": ledger.error, "captures_lost": dict(lost)})
    cut = sorted(table.cut.items(), key=lambda item: -item[1])
    return table, {"files": files, "hosts": len(table), "max_bytes": max_bytes,
                   "cut": {"files": len(cut), "bytes_not_read": sum(n for _, n in cut),
                           "hosts": [host for host, _ in cut[:LISTED]]},
                   "unread": unread[:LISTED], "unread_files": len(unread), "skipped": skipped[:LISTED]}
