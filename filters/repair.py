"""Text repair: encoding damage undone with ftfy, and the table artefacts of trafilatura's text output removed.

**Encoding** (`ftfy`, Speer 2019): mojibake (UTF-8 read as Windows-1252, "doesnÃ¢â‚¬â„¢t" → "doesn't"), HTML
entities left in text, terminal escapes, C1 and other control characters, lone surrogates. ftfy's options that
*normalise* text rather than repair it — ligatures, full-width characters, curly quotes, line breaks, Unicode
normalisation — are off by default, as FineWeb-2 sets them (its final touches: a model should see the characters
people write, and full-width punctuation is the right one in Chinese and Japanese); each can be turned on.

**Table lines.** trafilatura writes a table as rows of cells between `|`; an empty row or a rule becomes a line of
nothing but `|` and spaces ("|  |  |"). FineWeb-2 replaces such lines with a paragraph break (datatrove's
`SymbolLinesFormatter(symbols_to_remove=["|"], replace_char="\\n")`). Here each run of such lines becomes one empty
line, so the paragraphs around it stay apart; a line with anything else on it (a cell's text) stays. Vectorised over
a batch with Arrow's RE2 kernels (`(?m)` anchors: `$` before each newline; a `\\r` before it goes with the line).
"""
from __future__ import annotations

from typing import Any

import ftfy
import pyarrow as pa
import pyarrow.compute as pc

# A line of `|` and spaces with at least one `|`, and a run of such lines.
_TABLE_LINE = r"[ |]*\|[ |]*\r?"
TABLE_LINE = rf"(?m)^{_TABLE_LINE}$"
_TABLE_RUN = rf"(?m)^{_TABLE_LINE}(?:\n{_TABLE_LINE})*$"


def table_lines(texts: pa.Array) -> tuple[pa.Array, pa.Array]:
    """`texts` with each run of table-artefact lines replaced by one empty line, and the lines removed per text
    (int32; null texts stay null, with 0)."""
    counts = pc.fill_null(pc.count_substring_regex(texts, TABLE_LINE), 0).cast(pa.int32())
    return pc.replace_substring_regex(texts, _TABLE_RUN, ""), counts


# ftfy's options that normalise rather than repair, off as FineWeb-2's final touches set them.
FINEWEB2_CHOICES = {"fix_latin_ligatures": False, "fix_character_width": False, "uncurl_quotes": False,
                    "fix_line_breaks": False, "normalization": None}


def text_fixer(**options: Any) -> ftfy.TextFixerConfig:
    """ftfy's configuration: its repairs on, the normalising options off (:data:`FINEWEB2_CHOICES`), `options` (any
    of `TextFixerConfig`'s fields) over both; `explain` off (the explanation is not used, and building it costs)."""
    return ftfy.TextFixerConfig(**{**FINEWEB2_CHOICES, "explain": False, **options})


def fix_encoding(texts: list[str | None], config: ftfy.TextFixerConfig) -> tuple[list[str | None], list[bool]]:
    """Each text through ftfy, and whether it changed."""
    fixed = [ftfy.fix_text(t, config) if t else t for t in texts]
    return fixed, [a is not b and a != b for a, b in zip(fixed, texts)]
