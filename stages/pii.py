"""pii: replaces e-mail addresses, phone numbers, IPs, payment cards, IBANs and US SSNs in `text` with typed
placeholders and counts them per document (filters/pii.py: each kind's detection and validation rule).

Adds `pii_<kind>` (int32: spans replaced in the document) for each kind in `kinds`; modifies `text`; rejects nothing.
The run report sums the counts over the kept documents. Put it after extraction and the quality filters (their
signals are then computed on the original text) and before deduplication and tokenization.
"""
from __future__ import annotations

from typing import Literal

import phonenumbers
import pyarrow as pa
from pydantic import Field, field_validator

from curate.filters.pii import KINDS, PLACEHOLDERS, PiiFinder, redact
from curate.pipeline.registry import register
from curate.pipeline.sections import COUNTS
from curate.pipeline.stage import Params, Stage, emit

Kind = Literal["email", "iban", "card", "ssn", "ip", "phone"]


class PiiParams(Params):
    kinds: list[Kind] = Field(list(KINDS), min_length=1, description="what to find: " + ", ".join(KINDS))
    placeholders: dict[Kind, str] = Field({},
                                          description="replacement per kind; default <EMAIL>, <PHONE>, <IP>, …")
    phone_regions: list[str] = Field(["US"], min_length=1,
                                     description="regions whose national formats are read (+<country> numbers "
                                                 "are found in any); ISO 3166 codes such as US, GB, DE")
    ip_private: bool = Field(False, description="also private, loopback, link-local and reserved addresses")
    ip_documentation: bool = Field(False, description="also the documentation ranges (192.0.2.0/24, 2001:db8::/32, …)")

    @field_validator("phone_regions")
    @classmethod
    def _known(cls, regions: list[str]) -> list[str]:
        unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"unknown phone region {', '.join(map(repr, unknown))} (ISO 3166 codes: US, GB, DE, …)")
        return regions


@register
class Pii(Stage):
    """PII redaction: e-mails, phones (libphonenumber), public IPs, cards (Luhn), IBANs (mod-97), US SSNs."""

    name = "pii"
    Params = PiiParams
    report = COUNTS  # the run report sums the counts it adds

    def adds(self) -> dict[str, pa.DataType]:
        return {f"pii_{kind}": pa.int32() for kind in self._kinds()}

    def modifies(self) -> tuple[str, ...]:
        return ("text",)

    def _kinds(self) -> list[str]:
        return [k for k in KINDS if k in self.params.kinds]

    def setup(self) -> None:
        p = self.params
        self.finder = PiiFinder(tuple(p.kinds), tuple(p.phone_regions), p.ip_private, p.ip_documentation)
        self.placeholders = {**PLACEHOLDERS, **p.placeholders}

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        texts = batch.column("text").to_pylist()
        counts = {kind: [0] * len(texts) for kind in self._kinds()}
        out: list[str | None] = []
        for row, text in enumerate(texts):
            found = self.finder.find(text) if text else []
            for f in found:
                counts[f.kind][row] += 1
            out.append(redact(text, found, self.placeholders) if found else text)
        return emit(batch, [None] * len(texts), text=pa.array(out, pa.string()),
                    **{f"pii_{kind}": pa.array(values, pa.int32()) for kind, values in counts.items()})
