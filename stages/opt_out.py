"""opt_out: rejects pages whose owners refuse machine use — robots directives in the X-Robots-Tag header or a
<meta name="robots"> tag, and robots.txt rules against AI crawlers. Runs before extraction (it reads the page).

Rules, in this order: `x_robots_tag:<directive>` and `meta_robots:<directive>` for a directive listed in `refuse`
(applying to all agents or to one of `agents`); `robots:<agent>` for the first of `agents` the host's robots.txt
disallows the URL to (filters/opt_out.py: parsing, agents, RFC 9309's status rules). The robots.txt files are read
once per worker (in `setup`) and each host's file parsed on its first page. A page with no header, no meta tag and
no robots.txt is kept.
"""
from __future__ import annotations

from typing import Literal

import pyarrow as pa
from pydantic import Field, model_validator

from curate.filters.opt_out import AI_AGENTS, RobotsTable, header_directives, meta_directives
from curate.pipeline.errors import CurateError
from curate.pipeline.registry import register
from curate.pipeline.stage import Params, Stage, emit

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

    @model_validator(mode="after")
    def _something_to_do(self) -> OptOutParams:
        if not self.robots and not ((self.header or self.meta) and self.refuse):
            raise ValueError("nothing to honour: give robots files, or header/meta with directives in refuse")
        return self


@register
class OptOut(Stage):
    """Opt-out: X-Robots-Tag and meta robots directives (noai, noimageai, noindex) and robots.txt for AI crawlers."""

    name = "opt_out"
    files = ("robots",)
    Params = OptOutParams

    def requires(self) -> tuple[str, ...]:
        p = self.params
        return ("url", *(("x_robots_tag",) if p.header else ()), *(("html",) if p.meta else ()))

    def setup(self) -> None:
        try:
            self.robots = RobotsTable.load(self.params.robots)
        except OSError as error:
            raise CurateError(f"opt_out: cannot read robots.txt files ({error})") from None

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
