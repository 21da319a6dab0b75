"""url_filter: rejects documents by their URL alone — host and URL lists, UT1 categories, substrings, regexes, and
FineWeb's banned-word rule — unless an allow list names the host. Runs before extraction (it reads only `url`).

The rules, in the order they are tried (the first that matches is the reason): host lists — `domain` (a host of
`domains`/`domain_files`, or a subdomain of one) or `ut1:<category>`, the most specific listed host deciding and
`domains` before the categories on the same host; then URL prefixes — `ut1:<category>` or `url` (`urls`/`url_files`);
then `substring`, `regex`, `banned_word`, `soft_banned_words`, `banned_subword` (filters/urls.py has the matching
rules and FineWeb's source). A host of
`allow_domains`/`allow_files` (or a subdomain of one) is kept whatever the other rules say. A document without a
parseable URL is kept: there is nothing to match. The lists are loaded once per worker, in `setup`.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, ValidationInfo, field_validator, model_validator

from curate.filters.urls import (NO_LIST, HashIndex, ListFileError, Ut1Lists, alphanumeric, any_word_in,
                                 contains_any, distinct_words_in, first_match, host_key, join_url_key, path_prefixes,
                                 read_entries, split_urls, suffixes, url_key)
from curate.pipeline.errors import CurateError
from curate.pipeline.registry import register
from curate.pipeline.stage import Params, Stage, emit

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _word(word: str) -> str:
    """A configured word as FineWeb compares it: lower case, ASCII letters and digits only."""
    return _NOT_ALNUM.sub("", word.lower())


class UrlFilterParams(Params):
    domains: list[str] = Field([], description="hosts rejected with their subdomains")
    domain_files: list[str] = Field([], description="files of such hosts, one a line")
    urls: list[str] = Field([], description="URL prefixes 'host/path' rejected with what is below")
    url_files: list[str] = Field([], description="files of such URL prefixes, one a line")
    substrings: list[str] = Field([], description="reject a URL containing one (any case)")
    regexes: list[str] = Field([], description="reject a URL one matches (RE2 syntax)")
    ut1: str | None = Field(None, description="a UT1 blacklist folder: <category>/domains and <category>/urls")
    ut1_categories: list[str] | None = Field(None, description="UT1 categories to apply; none = all in the folder")
    allow_domains: list[str] = Field([], description="hosts (and subdomains) always kept")
    allow_files: list[str] = Field([], description="files of such hosts, one a line")
    banned_words: list[str] = Field([], description="FineWeb: one of these URL words rejects")
    banned_words_file: str | None = Field(None, description="a file of banned words, one a line")
    soft_banned_words: list[str] = Field([], description="FineWeb: words counted per URL")
    soft_banned_words_file: str | None = Field(None, description="a file of soft-banned words, one a line")
    soft_word_threshold: int = Field(2, ge=1, description="distinct soft-banned words that reject a URL")
    banned_subwords: list[str] = Field([],
                                       description="FineWeb: reject when one occurs in the URL's letters and digits")
    banned_subwords_file: str | None = Field(None, description="a file of banned subwords, one a line")

    @field_validator("domains", "allow_domains", "urls", "substrings", "regexes", "banned_words", "soft_banned_words",
                     "banned_subwords")
    @classmethod
    def _no_empty_entry(cls, entries: list[str], info: ValidationInfo) -> list[str]:
        """An empty substring or regex matches every URL; an empty host or word matches none: both are typos."""
        compared = {"domains": host_key, "allow_domains": host_key, "urls": url_key, "banned_words": _word,
                    "soft_banned_words": _word, "banned_subwords": _word}.get(info.field_name, str.strip)
        for number, entry in enumerate(entries):
            if not compared(entry):
                raise ValueError(f"entry {number} ({entry!r}) is empty as it is compared: remove it")
        return entries

    @field_validator("regexes")
    @classmethod
    def _re2(cls, regexes: list[str]) -> list[str]:
        for regex in regexes:
            try:
                pc.match_substring_regex(pa.array([""]), regex)
            except pa.ArrowInvalid as error:
                raise ValueError(f"regex {regex!r}: {error}") from None
        return regexes

    @field_validator("ut1_categories")
    @classmethod
    def _categories(cls, categories: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if categories is not None:
            if not info.data.get("ut1"):
                raise ValueError("ut1_categories goes with ut1")
            if not Path(info.data["ut1"]).is_dir():  # checked with the other files before a run; explain is static
                return categories
            try:
                Ut1Lists(info.data["ut1"], categories)
            except FileNotFoundError as error:
                raise ValueError(str(error)) from None
        return categories

    @model_validator(mode="after")
    def _something_to_do(self) -> UrlFilterParams:
        rules = [self.domains, self.domain_files, self.urls, self.url_files, self.substrings, self.regexes,
                 self.ut1, self.banned_words, self.banned_words_file, self.soft_banned_words,
                 self.soft_banned_words_file, self.banned_subwords, self.banned_subwords_file]
        if not any(rules):
            raise ValueError("no rule given: set domains, domain_files, urls, url_files, substrings, regexes, ut1 "
                             "or banned words")
        return self


def _words(inline: list[str], file: str | None) -> set[str]:
    words = {_word(w) for w in [*inline, *(read_entries(file) if file else [])]}
    return words - {""}


@register
class UrlFilter(Stage):
    """URL block lists (hosts with subdomains, URL prefixes, UT1 categories, regexes), FineWeb's banned URL words."""

    name = "url_filter"
    files = ("ut1", "domain_files", "url_files", "allow_files", "banned_words_file", "soft_banned_words_file",
             "banned_subwords_file")
    Params = UrlFilterParams

    def requires(self) -> tuple[str, ...]:
        return ("url",)

    def setup(self) -> None:
        p = self.params
        try:
            ut1 = Ut1Lists(p.ut1, p.ut1_categories) if p.ut1 else None
            # list 0: the configured hosts and URLs; lists 1..: the UT1 categories, in order
            self.lists = [None, *(f"ut1:{c}" for c in (ut1.categories if ut1 else []))]
            self.hosts = HashIndex(self._hosts(ut1))
            self.url_prefixes = HashIndex(self._urls(ut1))
            self.allowed = HashIndex((host_key(e), 0) for e in
                                     [*p.allow_domains, *(e for f in p.allow_files for e in read_entries(f))])
            self.banned = _words(p.banned_words, p.banned_words_file)
            self.soft = _words(p.soft_banned_words, p.soft_banned_words_file)
            self.subwords = sorted(_words(p.banned_subwords, p.banned_subwords_file))
        except (OSError, ListFileError) as error:
            raise CurateError(f"url_filter: cannot read a list ({error})") from None

    def _hosts(self, ut1: Ut1Lists | None):
        p = self.params
        yield from ((host_key(e), 0) for e in [*p.domains, *(e for f in p.domain_files for e in read_entries(f))])
        if ut1 is not None:
            yield from ut1.domains(1)

    def _urls(self, ut1: Ut1Lists | None):
        p = self.params
        yield from ((url_key(e), 0) for e in [*p.urls, *(e for f in p.url_files for e in read_entries(f))])
        if ut1 is not None:
            yield from ut1.urls(1)

    def decide(self, urls: pa.Array) -> list[str | None]:
        """The reject rule of each URL (None = kept)."""
        p = self.params
        raw_hosts, paths = split_urls(urls)
        distinct = pc.unique(raw_hosts)  # a crawl has many pages per host: each host is looked up once
        at = pc.index_in(raw_hosts, value_set=distinct).to_numpy()
        keys = [host_key(h) for h in distinct.to_pylist()]
        candidates = [suffixes(h) for h in keys]
        allowed = (first_match(self.allowed, candidates) != NO_LIST)[at]
        listed_host = first_match(self.hosts, candidates)[at]
        has_host = np.array([bool(k) for k in keys], bool)[at]
        listed_url = np.full(len(urls), NO_LIST, np.int32)
        if len(self.url_prefixes):
            hosts = [keys[i] for i in at.tolist()]
            url_keys = [path_prefixes(join_url_key(host, path)) if host else []
                        for host, path in zip(hosts, paths.to_pylist())]
            listed_url = first_match(self.url_prefixes, url_keys)
        reasons: list[str | None] = [None] * len(urls)
        checks = [
            (listed_host != NO_LIST, [self.lists[n] if n > 0 else "domain" for n in listed_host.tolist()]),
            (listed_url != NO_LIST, [self.lists[n] if n > 0 else "url" for n in listed_url.tolist()]),
            (contains_any(urls, p.substrings), "substring"),
            (_regexes(urls, p.regexes), "regex"),
            (any_word_in(urls, self.banned), "banned_word"),
            (distinct_words_in(urls, self.soft) >= p.soft_word_threshold, "soft_banned_words"),
            (contains_any(alphanumeric(urls), self.subwords) if self.subwords else False, "banned_subword"),
        ]
        for matched, rule in checks:
            for i in np.flatnonzero(matched & ~allowed & has_host).tolist():
                if reasons[i] is None:
                    reasons[i] = rule if isinstance(rule, str) else rule[i]
        return reasons

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return emit(batch, self.decide(batch.column("url")))


def _regexes(urls: pa.Array, regexes: list[str]) -> np.ndarray:
    out = np.zeros(len(urls), bool)
    for regex in regexes:
        out |= pc.fill_null(pc.match_substring_regex(pc.fill_null(urls, ""), regex), False).to_numpy(
            zero_copy_only=False)
    return out
