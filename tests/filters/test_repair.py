"""Text repair's pure core: trafilatura's table-artefact lines (as FineWeb-2 removes them) and ftfy's encoding fixes."""
import gzip

import pyarrow as pa
import pytest

from curate.filters.repair import fix_encoding, table_lines, text_fixer


def fineweb2_table_lines(text: str) -> str:
    """FineWeb-2's rule, read from its pipeline (datatrove's SymbolLinesFormatter with `|`), line by line: a line
    with something on it, all `|` and spaces, goes; each run of such lines leaves one paragraph break."""
    out, in_run = [], False
    for line in text.split("\n"):
        symbols = line.strip() != "" and set(line.rstrip("\r")) <= {"|", " "}
        if symbols and not in_run:
            out.append("")
        elif not symbols:
            out.append(line)
        in_run = symbols
    return "\n".join(out)


def test_table_lines_runs_become_one_empty_line():
    texts = ["Preise\n|  |  | \n| |\nAb 10 Euro", "| Name | Preis |\n| a | 1 |", "a | b\n||\n", "   \n|",
             "a\r\n| |\r\nb", None, ""]
    fixed, removed = table_lines(pa.array(texts, pa.string()))
    assert fixed.to_pylist() == ["Preise\n\nAb 10 Euro", "| Name | Preis |\n| a | 1 |", "a | b\n\n", "   \n",
                                 "a\r\n\nb", None, ""]
    assert removed.to_pylist() == [2, 0, 1, 1, 1, 0, 0]
    assert fixed.to_pylist()[:5] == [fineweb2_table_lines(t) for t in texts[:5]]


def test_table_lines_on_real_trafilatura_output(shared_data):
    """Pages of the trafilatura eval set whose tables leave empty rows, extracted as FineWeb does."""
    trafilatura = pytest.importorskip("trafilatura")
    pages = ["6155a3d5eaef6965", "27f92a389534fbda", "216a650863625539"]
    folder = shared_data / "extraction" / "trafilatura-eval" / "html"
    texts = [trafilatura.extract(gzip.open(folder / f"{page}.html.gz").read(), favor_precision=True,
                                 include_comments=False) for page in pages]
    fixed, removed = table_lines(pa.array(texts))
    assert removed.to_pylist() == [3, 1, 1]
    assert fixed.to_pylist() == [fineweb2_table_lines(t) for t in texts]
    assert "|  |  | \n" in texts[0] and "|  |  | \n" not in fixed[0].as_py()
    assert "| Menü |" in fixed[0].as_py()  # a row with a cell's text stays


def test_encoding_repairs_mojibake_and_entities_not_the_writing():
    german = "Dann werden vom TSV Buchen, der am Sonntag die Helfer für das Turnier abstellte, zwei Teams dabei sein."
    chinese = "102年度彰化县劳工运动会暨园游会于12月1日(星期日)上午在县立体育场盛大登场，来自全县共61个事业单位。"
    mojibake = german.encode("utf-8").decode("cp1252")  # UTF-8 bytes read as Windows-1252: "fÃ¼r"
    texts = [mojibake, "Fish &amp; chips\x00", chinese, "“Quoted” ﬁne", None]
    fixed, changed = fix_encoding(texts, text_fixer())
    assert "fÃ¼r" in mojibake and fixed[0] == german
    assert fixed[1] == "Fish & chips"
    assert fixed[2:] == [chinese, "“Quoted” ﬁne", None]  # FineWeb-2's choice: no width, quote or ligature change
    assert changed == [True, True, False, False, False]
    normalising, _ = fix_encoding(texts[2:4], text_fixer(fix_character_width=True, uncurl_quotes=True,
                                                        fix_latin_ligatures=True))
    assert normalising[0] != chinese and "，" not in normalising[0] and normalising[1] == '"Quoted" fine'
