"""domain: a domain label per document, from URL rules, an existing column, or a fastText topic classifier.

Exactly one source of labels:
- `rules` (inline) or `rules_file` (a YAML list of the same rules, or a text file of `<domain> <label>` lines):
  `regex` rules are tried first, in order, on the whole URL (RE2 syntax, as Arrow's compute functions take it); then
  `domain` rules, the most specific host first (`domain: wikipedia.org` matches `wikipedia.org` and `en.wikipedia.org`,
  not `notwikipedia.org`); then `suffix` rules on the host, the longest first (`suffix: .edu`, `suffix: .ac.uk`);
- `column`: the value of a column (e.g. `source`, or an input field), optionally through a `map` of value -> label;
- `classifier`: a fastText model file; its top label (`__label__` stripped) when its score is at least `threshold`.
Everything unmatched gets `default`. Adds `domain`; rejects nothing. Labels name shard folders, so they are words of
letters, digits, `_`, `.` and `-`.
"""
from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from curate.pipeline.errors import CurateError
from curate.pipeline.registry import register
from curate.pipeline.stage import Params, Stage, emit
from curate.stages.langid import load_model, normalise

LABEL = r"^[A-Za-z0-9_.\-]+$"
_LABEL = re.compile(LABEL)
_NOT_LABEL = re.compile(r"[^A-Za-z0-9_.\-]+")
# scheme://[userinfo@]host[:port]... ; the host is what the rules see, lower-cased.
_HOST = r"^[A-Za-z][A-Za-z0-9+.\-]*://(?:[^@/?#]*@)?(?P<host>\[[^\]]*\]|[^:/?#]*)"


class Rule(BaseModel):
    """One URL rule: exactly one of domain, suffix, regex, and the label it gives."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str = Field(pattern=LABEL)
    domain: str | None = None
    suffix: str | None = None
    regex: str | None = None

    @model_validator(mode="after")
    def _one_pattern(self) -> Rule:
        if sum(v is not None for v in (self.domain, self.suffix, self.regex)) != 1:
            raise ValueError("a rule has exactly one of domain, suffix, regex")
        if self.regex is not None:
            try:
                pc.match_substring_regex(pa.array([""]), self.regex)
            except pa.ArrowInvalid as error:
                raise ValueError(f"regex {self.regex!r}: {error}") from None
        return self


class DomainParams(Params):
    rules: list[Rule] | None = Field(None, description="URL rules: {domain|suffix|regex: ..., label: ...}")
    rules_file: str | None = Field(None, description="a YAML list of rules, or lines of '<domain> <label>'")
    column: str | None = Field(None, description="take the label from this column (e.g. source)")
    map: dict[str, str] | None = Field(None, description="with column: value -> label (unmapped values: default)")
    classifier: str | None = Field(None, description="a fastText topic model file")
    threshold: float = Field(0.0, ge=0, le=1, description="with classifier: minimum score, else default")
    default: str = Field("other", pattern=LABEL, description="label of documents nothing matches")

    @model_validator(mode="after")
    def _one_source(self) -> DomainParams:
        given = [k for k in ("rules", "rules_file", "column", "classifier") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of rules, rules_file, column, classifier")
        if self.map is not None and self.column is None:
            raise ValueError("map goes with column")
        for label in (self.map or {}).values():
            if not _LABEL.match(label):
                raise ValueError(f"label {label!r}: letters, digits, '_', '.', '-' only")
        return self


def load_rules(path: str) -> list[Rule]:
    """Rules from a YAML list (`.yaml`/`.yml`) or from `<domain> <label>` lines (`#` starts a comment)."""
    file = Path(path)
    if not file.is_file():
        raise CurateError(f"domain rules file {path!r} not found (domain.rules_file)")
    text = file.read_text(encoding="utf-8")
    try:
        if file.suffix in (".yaml", ".yml"):
            return [Rule.model_validate(entry) for entry in yaml.safe_load(text) or []]
        rules = []
        for number, line in enumerate(text.splitlines(), 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if len(fields) != 2:
                raise ValueError(f"line {number}: expected '<domain> <label>', got {line!r}")
            rules.append(Rule(domain=fields[0], label=fields[1]))
        return rules
    except (ValueError, yaml.YAMLError) as error:
        raise CurateError(f"{path}: {str(error).splitlines()[0]}") from None


class UrlRules:
    """URL -> label by the rules' precedence (regex, then most specific domain, then longest suffix)."""

    def __init__(self, rules: list[Rule]):
        self.regexes = [(r.regex, r.label) for r in rules if r.regex is not None]
        self.domains: dict[str, str] = {}
        for r in rules:
            if r.domain is not None:
                self.domains.setdefault(r.domain.lower().strip(".").removeprefix("www."), r.label)
        self.suffixes = sorted(((r.suffix.lower(), r.label) for r in rules if r.suffix is not None),
                               key=lambda s: -len(s[0]))

    def host_label(self, host: str) -> str | None:
        parts = host.split(".")
        for i in range(len(parts)):
            label = self.domains.get(".".join(parts[i:]))
            if label is not None:
                return label
        return next((label for suffix, label in self.suffixes if host.endswith(suffix)), None)

    def labels(self, urls: pa.Array, default: str) -> pa.Array:
        urls = pc.fill_null(urls, "")
        hosts = pc.utf8_lower(pc.struct_field(pc.extract_regex(urls, _HOST), [0]))
        hosts = pc.fill_null(hosts, "")
        distinct = pc.unique(hosts)
        per_host = pa.array([self.host_label(h) for h in distinct.to_pylist()], pa.string())
        out = pc.take(per_host, pc.index_in(hosts, value_set=distinct))
        for regex, label in reversed(self.regexes):  # the first listed regex wins: apply it last
            out = pc.if_else(pc.match_substring_regex(urls, regex), pa.scalar(label), out)
        return pc.fill_null(out, default)


def clean_label(value: str | None, default: str) -> str:
    """A column or classifier value as a label (it names a shard folder)."""
    if not value:
        return default
    return value if _LABEL.match(value) else (_NOT_LABEL.sub("_", value).strip("_") or default)


@register
class Domain(Stage):
    """Domain labels from URL rules, an existing column, or a fastText classifier."""

    name = "domain"
    files = ("rules_file", "classifier")
    Params = DomainParams

    def requires(self) -> tuple[str, ...]:
        p = self.params
        return (p.column,) if p.column else ("text",) if p.classifier else ("url",)

    def adds(self) -> dict[str, pa.DataType]:
        return {"domain": pa.string()}

    def setup(self) -> None:
        p = self.params
        if p.rules is not None or p.rules_file is not None:
            self.rules = UrlRules(p.rules if p.rules is not None else load_rules(p.rules_file))
        if p.classifier is not None:
            self.model = load_model(p.classifier, "classifier")

    def check_files(self) -> None:
        if self.params.classifier is not None:
            load_model(self.params.classifier, "classifier")

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        p = self.params
        if p.column is not None:
            values = batch.column(p.column).cast(pa.string()).to_pylist()
            if p.map is not None:
                labels = [p.map.get(v, p.default) if v is not None else p.default for v in values]
            else:
                labels = [clean_label(v, p.default) for v in values]
            domain = pa.array(labels, pa.string())
        elif p.classifier is not None:
            texts = [normalise(t or "", 4000) for t in batch.column("text").to_pylist()]
            predicted, scores = self.model.predict(texts, k=1)
            domain = pa.array([clean_label(label[0].removeprefix("__label__"), p.default)
                               if len(label) and float(score[0]) >= p.threshold else p.default
                               for label, score in zip(predicted, scores)], pa.string())
        else:
            domain = self.rules.labels(batch.column("url"), p.default)
        return emit(batch, [None] * batch.num_rows, domain=domain)
