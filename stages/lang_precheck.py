"""lang_precheck: a cheap language guess from the raw page, so the expensive extractor only sees pages it can keep.

trafilatura costs ~20 ms of CPU a page; the start of the page's visible text (`filters/visible_text.py`: a scan of
its tags that stops after `max_chars` characters, ~0.4 ms on the evaluation pages after ~0.2 ms of decoding) and
fastText on it (~0.2 ms) cost a thirtieth of that. This stage identifies the language of that text with the same
fastText model as `langid`, and rejects the page (`language:<label>`, the model's best label) when none of
`languages` scores `threshold` or more among the model's top labels. Placed before `extract` in a recipe that keeps
only some languages, it spares trafilatura every page that is clearly in another language.

The threshold is deliberately low: it must only reject pages the later `langid` would reject anyway. On the 990
pages of trafilatura's evaluation set, of the 168 that trafilatura's text makes English at 0.65 or more, 167 score
0.1 or more on the visible text (the one lost is mostly Russian outside its main content), while 802 of the 822 others
score below 0.1 and never reach trafilatura. resiliparse's visible text of the whole page, which this stage read
before (in a sandbox: 1.1 ms a page and a round trip), passed the same 167 English pages and one more other page;
main-content text decided the same pages at twice that cost; 4,000 characters instead of 1,000 changed nothing but
the cost.

No decision is made without evidence: a page without text, or that the extractor's own cheap checks would reject
(binary, too large, …), passes through to `extract`, which gives it its proper reason.
"""
from __future__ import annotations

import pyarrow as pa
from pydantic import Field

from curate.filters.visible_text import visible_prefix
from curate.pipeline.registry import register
from curate.pipeline.stage import Params, Stage, emit
from curate.stages.extract import ExtractParams, check_page, pages_of
from curate.stages.langid import load_model, normalise
from curate.stages.sandbox_worker import decode_html


class LangPrecheckParams(Params):
    languages: list[str] = Field(..., min_length=1, description="languages the pipeline keeps, as langid labels them")
    threshold: float = Field(0.1, ge=0, le=1, description="reject when no kept language scores this much or more")
    top: int = Field(5, ge=1, le=50, description="the model's best labels searched for a kept language")
    model_path: str | None = Field(None, description="a fastText model file; none = the bundled lid.176.ftz")
    max_chars: int = Field(1000, gt=0, description="characters of the page's text the model sees")


@register
class LangPrecheck(Stage):
    """A fast language guess (the start of the visible text + fastText) that spares the extractor pages in other
    languages."""

    name = "lang_precheck"
    Params = LangPrecheckParams
    files = ("model_path",)

    def requires(self) -> tuple[str, ...]:
        return ("html",)  # and `content_type` where the reader has it

    def needs_page(self) -> bool:
        return True  # a guess for the extractor, from the page: a text input has neither

    def check_files(self) -> None:
        load_model(self.params.model_path)

    def setup(self) -> None:
        p = self.params
        self.model = load_model(p.model_path)
        self.caps = ExtractParams()  # the extractor's default caps: pages beyond them are left to extract

    def guess(self, html: bytes | None, content_type: str | None) -> str | None:
        """The start of the page's visible text, normalised for the model; None when there is nothing to judge."""
        if check_page(html, content_type, self.caps) is not None:
            return None
        try:
            page = decode_html(html, content_type)
        except Exception:  # noqa: BLE001 (no evidence: extract, which decodes the page again, gives the reason)
            return None
        chars = self.params.max_chars
        return normalise(visible_prefix(page, chars), chars) or None

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        pages = pages_of(batch)
        guesses = [self.guess(html, content_type) for html, content_type in pages]
        judged = [i for i, text in enumerate(guesses) if text is not None]
        reasons: list[str | None] = [None] * len(pages)
        if judged:
            labels, scores = self.model.predict([guesses[i] for i in judged], k=self.params.top)
            wanted = set(self.params.languages)
            for i, row_labels, row_scores in zip(judged, labels, scores):
                names = [label.removeprefix("__label__") for label in row_labels]
                if not any(name in wanted and score >= self.params.threshold for name, score in zip(names, row_scores)):
                    reasons[i] = f"language:{names[0] if names else 'unknown'}"
        return emit(batch, reasons)
