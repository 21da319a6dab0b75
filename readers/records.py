"""Shared rules for readers of records with their own fields (JSONL, Parquet): the text field and extra fields."""
from __future__ import annotations

from curate.pipeline.schema import CORE_NAMES, REJECT


def carried_name(field: str) -> str:
    """The column an extra input field becomes: its own name, or `input_<name>` where it clashes with a core column."""
    return f"input_{field}" if field in CORE_NAMES or field == REJECT else field
