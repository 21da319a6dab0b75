"""lang_precheck: pages clearly in another language are rejected before extraction; no evidence, no decision."""
from __future__ import annotations

import pyarrow as pa
import pytest

from curate.pipeline.errors import ConfigError
from curate.pipeline.config import parse
from curate.stages.lang_precheck import LangPrecheck, LangPrecheckParams

ENGLISH = ("Gardens in winter need care. The old gardener explained how frost protects the soil and why the beds are "
           "covered with leaves before the first snow arrives in the valley. ")
GERMAN = ("Im Winter brauchen Gärten Pflege. Der alte Gärtner erklärte, wie der Frost den Boden schützt und warum die "
          "Beete mit Laub bedeckt werden, bevor der erste Schnee ins Tal kommt. ")


def page(text: str) -> bytes:
    paragraphs = "".join(f"<p>{text}</p>" for _ in range(4))
    return f"<html><body><nav><a href='/'>Home</a></nav><article>{paragraphs}</article></body></html>".encode()


def precheck(pages, **params):
    stage = LangPrecheck(LangPrecheckParams(**{"languages": ["en"], **params}))
    stage.setup()
    batch = pa.RecordBatch.from_pydict({"html": pa.array(pages, pa.binary()),
                                        "content_type": pa.array([None] * len(pages), pa.string())})
    return stage.process(batch).column("reject_reason").to_pylist()


def test_rejects_pages_in_other_languages_only():
    pdf = b"%PDF-1.4 binary"
    empty = b"<html><body><script>var x = 1;</script></body></html>"
    reasons = precheck([page(ENGLISH), page(GERMAN), pdf, empty, b""])
    assert reasons == [None, "language:de", None, None, None]  # binary, textless and empty pages are left to extract


def test_a_second_language_or_a_high_threshold_changes_the_decision():
    assert precheck([page(GERMAN)], languages=["en", "de"]) == [None]
    mixed = page(ENGLISH + GERMAN + GERMAN)
    low, high = precheck([mixed], threshold=0.01), precheck([mixed], threshold=0.99)
    assert low == [None] and high == ["language:de"]


def test_the_config_requires_languages():
    with pytest.raises(ConfigError, match="languages"):
        parse({"input": {"paths": ["x"]}, "output": "o", "stages": [{"name": "lang_precheck"}]})


def test_the_guess_reads_the_text_a_browser_shows_not_scripts_or_comments():
    hidden = ("<html><head><title>Gärten im Winter</title><style>p { color: red }</style>"
              "<script>var text = 'Im Winter brauchen Gärten Pflege';</script></head><body><!-- Im Winter brauchen "
              "Gärten Pflege, der alte Gärtner --><noscript>Im Winter brauchen Gärten Pflege</noscript>")
    page_ = (hidden + "".join(f"<p>{ENGLISH}</p>" for _ in range(4)) + "</body></html>").encode()
    assert precheck([page_]) == [None]
    assert precheck([(hidden + "<p>" + GERMAN + "</p>").encode()]) == ["language:de"]


def test_a_page_in_a_declared_legacy_charset_is_judged_on_its_decoded_text():
    latin = ('<html><head><meta charset="iso-8859-1"></head><body>' + "".join(f"<p>{GERMAN}</p>" for _ in range(4))
             + "</body></html>").encode("latin-1")
    assert precheck([latin], languages=["de"]) == [None]
    assert precheck([latin]) == ["language:de"]
