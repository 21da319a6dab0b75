"""The evaluation corpus of the multilingual agreement bench: documents built from real text in many languages, made so
that the FineWeb-2 filters' decisions fall on both sides of every threshold.

    python bench/multilingual_corpus.py --out corpus.jsonl [--per-language 300] [--seed 0] [--languages deu_Latn,...]

Sources (under `../shared/data`, not part of the project):
- `langid/lingua-dev.tsv`: sentences, word pairs and single words per language (ISO 639-1; mapped below to the
  FineWeb-2 `iso639-3_Script` code whose config the filters read);
- German: the pages of `extraction/trafilatura-eval`, extracted with trafilatura as datatrove's `Trafilatura` step does
  in FineWeb's first pipeline, whose output FineWeb-2 started from (`favor_precision=True, include_comments=False,
  deduplicate=True`), the pages lid.176 labels `de` kept as they are. Extracted text rather than the `with` snippets:
  the snippets are single sentences picked by annotators, while the filters judge a page as an extractor leaves it
  (menus cut to short lines, lists, headings without punctuation, repeated lines).

Every document carries its `lang` (the FineWeb-2 code), so language ID is not under test. The kinds of document, each
drawn with a strength spread from zero to about twice the language's threshold (so that some land near it on each
side):

- `prose`: sentences in paragraphs (1 to 40 sentences: short documents fall under 50 words), one sentence per line in
  `prose_lines`;
- `list`: lines of single words or word pairs, some ending in punctuation, some with bullets or numbers;
- `prose_list`: a prose block and a list block in one document (the newline-per-word and line-punctuation rules);
- `dup_lines`: prose one sentence per line with a share of the lines repeated;
- `top_ngram`: prose with a 2-, 3- or 4-word phrase repeated (the top n-gram rules);
- `dup_passage`: prose with a passage of 10 to 25 words repeated (the duplicated 5- to 10-gram rules);
- `hashes`, `ellipses`, `end_ellipsis`, `numbers`: prose with hashtags, ellipses, lines ending in an ellipsis, numbers;
- `stopwords`: prose or a word list with the language's stop words taken out and 0 to 3 of them put back;
- `long_words`, `short_words`: compounds (spaced scripts) or long Latin words (the others) among the words; words of
  one or two letters;
- `mixed`: blocks of two or three of the kinds above in one document;
- `page`, `page_mixed` (German): trafilatura's text of a real page, alone or with a repeated or list block;
- `huge`: two documents per language around the 100,000-word maximum; `empty`: blank and punctuation-only texts.

A tenth of the documents end with a newline and a few use `\\r\\n` line ends, as JSONL text taken from files does.
"""
from __future__ import annotations

import argparse
import gzip
import itertools
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

#: lingua's ISO 639-1 codes -> the FineWeb-2 config (`iso639-3_Script`) of the language as lingua's text writes it: the
#: macrolanguage's largest member in FineWeb-2 (ar -> arb, fa -> fas, zh -> cmn, ms -> zsm, et -> ekk, lv -> lvs,
#: sq -> als, mn -> khk, sw -> swh, az -> azj). English has no FineWeb-2 config.
FINEWEB2_CODES = {
    "af": "afr_Latn", "ar": "arb_Arab", "az": "azj_Latn", "be": "bel_Cyrl", "bg": "bul_Cyrl", "bn": "ben_Beng",
    "bs": "bos_Latn", "ca": "cat_Latn", "cs": "ces_Latn", "cy": "cym_Latn", "da": "dan_Latn", "de": "deu_Latn",
    "el": "ell_Grek", "eo": "epo_Latn", "es": "spa_Latn", "et": "ekk_Latn", "eu": "eus_Latn", "fa": "fas_Arab",
    "fi": "fin_Latn", "fr": "fra_Latn", "ga": "gle_Latn", "gu": "guj_Gujr", "he": "heb_Hebr", "hi": "hin_Deva",
    "hr": "hrv_Latn", "hu": "hun_Latn", "hy": "hye_Armn", "id": "ind_Latn", "is": "isl_Latn", "it": "ita_Latn",
    "ja": "jpn_Jpan", "ka": "kat_Geor", "kk": "kaz_Cyrl", "ko": "kor_Hang", "la": "lat_Latn", "lg": "lug_Latn",
    "lt": "lit_Latn", "lv": "lvs_Latn", "mi": "mri_Latn", "mk": "mkd_Cyrl", "mn": "khk_Cyrl", "mr": "mar_Deva",
    "ms": "zsm_Latn", "nb": "nob_Latn", "nl": "nld_Latn", "nn": "nno_Latn", "pa": "pan_Guru", "pl": "pol_Latn",
    "pt": "por_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl", "sk": "slk_Latn", "sl": "slv_Latn", "sn": "sna_Latn",
    "so": "som_Latn", "sq": "als_Latn", "sr": "srp_Cyrl", "st": "sot_Latn", "sv": "swe_Latn", "sw": "swh_Latn",
    "ta": "tam_Taml", "te": "tel_Telu", "th": "tha_Thai", "tl": "fil_Latn", "tn": "tsn_Latn", "tr": "tur_Latn",
    "ts": "tso_Latn", "uk": "ukr_Cyrl", "ur": "urd_Arab", "vi": "vie_Latn", "xh": "xho_Latn", "yo": "yor_Latn",
    "zh": "cmn_Hani", "zu": "zul_Latn",
}

#: The bench's languages: 20 languages in 11 scripts (Latin, Cyrillic, Arabic, Devanagari, Bengali, Han, Han/Kana,
#: Thai, Hangul, Greek, Hebrew), each with its own word tokenizer family in FineWeb-2.
LANGUAGES = ("deu_Latn", "fra_Latn", "spa_Latn", "pol_Latn", "tur_Latn", "vie_Latn", "rus_Cyrl", "ukr_Cyrl",
             "arb_Arab", "fas_Arab", "urd_Arab", "hin_Deva", "mar_Deva", "ben_Beng", "cmn_Hani", "jpn_Jpan",
             "tha_Thai", "kor_Hang", "ell_Grek", "heb_Hebr")

#: Characters per word where words are not spaced, words per whitespace word elsewhere (1.0 where not listed), as
#: FineWeb-2's tokenizers split this corpus' prose (measured with datatrove). Only used to aim strengths.
CHARS_PER_WORD = {"cmn_Hani": 1.9, "jpn_Jpan": 1.8, "tha_Thai": 4.9}
WORDS_PER_TOKEN = {"kor_Hang": 2.15, "vie_Latn": 0.75}
#: Stop words are matched inside words here (particles and syllables), so taking them out means taking the strings out.
SUBSTRING_STOPWORDS = {"cmn_Hani", "jpn_Jpan", "tha_Thai", "kor_Hang"}
FULL_STOP = {"cmn_Hani": "。", "jpn_Jpan": "。", "hin_Deva": "।", "mar_Deva": "।", "ben_Beng": "।", "arb_Arab": ".",
             "urd_Arab": "۔"}
BULLETS = ("• ", "- ", "* ")

KINDS = {  # kind -> weight (share of a language's generated documents)
    "prose": 10, "prose_lines": 5, "list": 8, "prose_list": 10, "dup_lines": 10, "top_ngram": 12, "dup_passage": 20,
    "hashes": 4, "ellipses": 4, "end_ellipsis": 4, "numbers": 5, "stopwords": 6, "long_words": 4, "short_words": 4,
    "mixed": 7,
}


def load_config(code: str, data: Path = DATA) -> dict:
    return yaml.safe_load((data / "fineweb-2" / "configs" / f"{code}.yml").read_text())


def load_lingua(data: Path = DATA) -> dict[str, dict[str, list[str]]]:
    """lingua's lines per FineWeb-2 code and kind (`sentences`, `word-pairs`, `single-words`)."""
    out: dict[str, dict[str, list[str]]] = {}
    with open(data / "langid" / "lingua-dev.tsv", encoding="utf-8") as f:
        next(f)
        for line in f:
            kind, iso1, text = line.rstrip("\n").split("\t", 2)
            code = FINEWEB2_CODES.get(iso1)
            if code and text.strip():
                out.setdefault(code, {}).setdefault(kind, []).append(text.strip())
    return out


def german_pages(data: Path = DATA) -> list[tuple[str, str]]:
    """(url, text) of the trafilatura evaluation pages lid.176 labels German, extracted as datatrove's Trafilatura
    step does (FineWeb's settings)."""
    import fasttext
    import trafilatura

    from curate.stages.langid import bundled_model_path
    from curate.stages.sandbox_worker import decode_html

    lid = fasttext.load_model(str(bundled_model_path()))
    base = data / "extraction" / "trafilatura-eval"
    pages = []
    for line in (base / "index.jsonl").read_text().splitlines():
        entry = json.loads(line)
        html = decode_html(gzip.decompress((base / entry["html"]).read_bytes()), None)
        text = trafilatura.extract(html, favor_precision=True, include_comments=False, deduplicate=True)
        if text and lid.predict(text.replace("\n", " "))[0][0] == "__label__de":
            pages.append((entry["url"], text))
    return pages


class Generator:
    """Documents of one language from its lingua lines, with strengths drawn against its FineWeb-2 thresholds."""

    def __init__(self, code: str, lines: dict[str, list[str]], config: dict, rng: random.Random,
                 long_latin: list[str]):
        self.code, self.config, self.rng = code, config, rng
        self.sentences = lines["sentences"]
        self.pairs = lines.get("word-pairs", [])
        self.singles = lines.get("single-words", [])
        self.join = "" if code in ("cmn_Hani", "jpn_Jpan") else " "
        self.stop = FULL_STOP.get(code, ".")
        self.stopwords = [w for w in config["stopwords"]]
        self.long_latin = long_latin
        self.top = dict(config["top_n_grams"])
        self.dup = dict(config["dup_n_grams"])
        self.by_char = code in CHARS_PER_WORD  # words are not spaced: cut and sprinkle by characters
        # the n-gram order a repetition aims at, in turn, so that every order's threshold gets documents
        self.top_orders, self.dup_orders = itertools.cycle((2, 3, 4)), itertools.cycle(range(5, 11))

    # -- pieces ------------------------------------------------------------------------------------------------
    def sentence(self) -> str:
        return self.rng.choice(self.sentences)

    def prose_sentences(self, lo: int = 1, hi: int = 40) -> list[str]:
        return [self.sentence() for _ in range(self.rng.randint(lo, hi))]

    def paragraphs(self, sentences: list[str]) -> str:
        out, i = [], 0
        while i < len(sentences):
            k = self.rng.randint(1, 6)
            out.append(self.join.join(sentences[i:i + k]))
            i += k
        return self.rng.choice(("\n", "\n\n")).join(out)

    def list_line(self) -> str:
        source = self.pairs if self.pairs and self.rng.random() < 0.5 else (self.singles or self.pairs)
        return self.rng.choice(source)

    def units(self, text: str) -> int:
        """About as many words as the language's tokenizer finds (to aim strengths; the filters count their own)."""
        if self.by_char:
            return max(1, round(len(re.sub(r"\s", "", text)) / CHARS_PER_WORD[self.code]))
        return max(1, round(len(text.split()) * WORDS_PER_TOKEN.get(self.code, 1.0)))

    def phrase(self, n: int) -> str:
        """About n words cut from a sentence (by characters where words are not spaced)."""
        for _ in range(50):
            s = self.sentence()
            if self.by_char:
                s, k = s.replace(" ", ""), round(n * CHARS_PER_WORD[self.code])
                if len(s) >= k:
                    i = self.rng.randrange(len(s) - k + 1)
                    return s[i:i + k]
            else:
                ws = s.split()
                if len(ws) >= n:
                    i = self.rng.randrange(len(ws) - n + 1)
                    return " ".join(ws[i:i + n])
        return self.sentence()

    def insert(self, blocks: list[str], piece: str, times: int) -> list[str]:
        """`piece` inserted `times` times between the blocks (never twice in a row)."""
        out = list(blocks)
        for _ in range(times):
            out.insert(self.rng.randint(0, len(out)), piece)
        return out

    def sprinkle(self, text: str, per_word: float, make) -> str:
        """About `per_word` of the words (as the tokenizer counts them) replaced by make(word): whitespace words, or
        characters where words are not spaced."""
        if self.by_char:
            p = per_word / CHARS_PER_WORD[self.code]
            return "".join(make(c) if not c.isspace() and self.rng.random() < p else c for c in text)
        p = min(1.0, per_word * WORDS_PER_TOKEN.get(self.code, 1.0))
        return "\n".join(" ".join(make(w) if w and self.rng.random() < p else w for w in line.split(" "))
                         for line in text.split("\n"))

    # -- kinds ---------------------------------------------------------------------------------------------------
    def prose(self) -> str:
        return self.paragraphs(self.prose_sentences())

    def prose_lines(self) -> str:
        return "\n".join(self.prose_sentences(3, 40))

    def word_list(self, lo: int = 10, hi: int = 150) -> str:
        n = self.rng.randint(lo, hi)
        punct = self.rng.uniform(0, 2 * self.config["line_punct_thr"] if self.rng.random() < 0.5 else 0.5)
        bullet = self.rng.choice((0.0, self.rng.uniform(0.7, 1.0), 1.0))
        marker = self.rng.choices(BULLETS, weights=(45, 45, 10))[0]
        numbers = self.rng.choice((0.0, self.rng.uniform(0, 0.5)))
        lines = []
        for _ in range(n):
            line = str(self.rng.randint(1, 2030)) if self.rng.random() < numbers else self.list_line()
            if self.rng.random() < punct:
                line += self.stop
            if self.rng.random() < bullet:
                line = marker + line
            lines.append(line)
        return "\n".join(lines)

    def prose_list(self) -> str:
        prose = self.prose_sentences(2, 20)
        target = self.rng.uniform(0.2, 2.5) * self.config["new_line_ratio"]  # newlines per word
        words = self.units(" ".join(prose))
        # k list lines of ~2 words add k newlines and ~2k words: (p + k) / (words + 2k) = target
        k = max(1, int((target * words - len(prose)) / max(1 - 2 * target, 0.05)))
        blocks = ["\n".join(prose), self.word_list(min(k, 300), min(k, 300))]
        if self.rng.random() < 0.5:
            blocks.reverse()
        return "\n".join(blocks)

    def dup_lines(self) -> str:
        lines = self.prose_sentences(8, 40)
        share = self.rng.uniform(0, 2 * self.config["dup_line_frac"])
        for i in range(1, len(lines)):
            if self.rng.random() < share:
                lines[i] = lines[self.rng.randrange(i)]
        return "\n".join(lines)

    def top_ngram(self) -> str:
        n = next(self.top_orders)
        phrase = self.phrase(n)
        sentences = self.prose_sentences(3, 30)
        base = len(self.join.join(sentences))
        # characters of the phrase's occurrences over all characters, around the threshold of its order
        share = self.rng.uniform(0.5, 1.5) * self.top[n]
        times = max(2, round(share * base / max(len(phrase) * (1 - share) - share, 1)))
        return self.paragraphs(self.insert(sentences, phrase + self.stop, times))

    def dup_passage(self) -> str:
        sentences = self.prose_sentences(4, 30)
        passage = self.phrase(self.rng.randint(10, 25))
        base = len(self.join.join(sentences)) + len(passage) + 1
        # the repeats' characters (spaces aside) over all characters, aimed between the maximum of one n-gram order
        # and the next lower order's: where that order's rule is the first to fail
        n = next(self.dup_orders)
        share = self.rng.uniform(self.dup[n] if n < 10 else 0.85 * self.dup[n],
                                 self.dup[n - 1] if n > 5 else 1.3 * self.dup[n])
        solid = len(passage.replace(" ", ""))
        times = max(1, round(share * base / max(solid - share * (len(passage) + 1), 1)))
        return self.paragraphs(self.insert(sentences, passage, times + 1))

    def hashes(self) -> str:
        ratio = self.rng.uniform(0.05, 0.3)  # '#' per word (each '#' a word of its own too): around the 0.1 maximum
        return self.sprinkle(self.prose(), ratio, lambda w: "#" + w)

    def ellipses(self) -> str:
        ratio = self.rng.uniform(0.05, 0.3)
        mark = self.rng.choice(("...", "…"))
        return self.sprinkle(self.prose(), ratio, lambda w: w + mark)

    def end_ellipsis(self) -> str:
        share = self.rng.uniform(0.15, 0.45)  # around the 0.3 maximum
        mark = self.rng.choice(("...", "…"))
        lines = [s.rstrip(".。!?।") + mark if self.rng.random() < share else s for s in self.prose_sentences(3, 30)]
        return "\n".join(lines)

    def numbers(self) -> str:
        share = self.rng.uniform(0, 0.5)
        formats = ("{}", "{},{:02d}", "{}.{}", "{}%", "+{}", "{}:{:02d}")

        def number() -> str:
            fmt = self.rng.choice(formats)
            return fmt.format(*(self.rng.randint(0, 2030) for _ in range(fmt.count("{"))))

        if self.by_char:  # a number after a character, as a word of its own
            return self.sprinkle(self.prose(), share, lambda c: f"{c} {number()} ")
        return self.sprinkle(self.prose(), share, lambda w: number() if self.rng.random() < 0.5 else f"{w} {number()}")

    def without_stopwords(self, text: str) -> str:
        if self.code in SUBSTRING_STOPWORDS:
            for w in sorted(self.stopwords, key=len, reverse=True):
                text = text.replace(w, "")
            return text
        stop = set(self.stopwords)
        for w in stop:  # stop words written as punctuation ('،') are taken out wherever they are
            if not any(c.isalnum() for c in w):
                text = text.replace(w, "")
        punct = "".join(dict.fromkeys(".,;:!?\"'()«»“”„-—–।。"))
        return "\n".join(" ".join(w for w in line.split(" ") if w.strip(punct).lower() not in stop)
                         for line in text.split("\n"))

    def stopwords_kind(self) -> str:
        if self.rng.random() < 0.5:
            text = self.without_stopwords(self.prose())
        else:
            words = [self.list_line() for _ in range(self.rng.randint(60, 200))]
            per_line = self.rng.randint(5, 15)
            text = self.without_stopwords("\n".join(" ".join(words[i:i + per_line]) + self.stop
                                                    for i in range(0, len(words), per_line)))
        keep = self.rng.sample(self.stopwords, min(self.rng.choice((0, 1, 1, 2, 2, 3)), len(self.stopwords)))
        ws = text.split(" ")
        for w in keep:
            ws.insert(self.rng.randint(0, len(ws)), w)
        return " ".join(ws)

    def long_words(self) -> str:
        """Mean word length around the maximum: words made compounds of the language's words (spaced scripts), or
        long Latin words among the words (Han, Kana, Thai, Hangul, whose words are a few characters)."""
        target = self.rng.uniform(0.6, 1.4) * self.config["max_avg_word_length"]
        sentences = self.prose_sentences(3, 20)
        if self.by_char or self.code == "kor_Hang":
            words = self.units(" ".join(sentences))
            here = len(re.sub(r"\s", "", " ".join(sentences))) / words  # characters per word now
            latin = sum(map(len, self.long_latin)) / len(self.long_latin)
            # (words * here + k * latin) / (words + k) = target
            k = max(0, round(words * (target - here) / max(latin - target, 1)))
            return self.paragraphs(self.insert(sentences, " ".join(self.rng.choice(self.long_latin) for _ in range(3)),
                                               k // 3))
        pool = [w for w in self.singles if w.isalpha()] or self.singles

        def compound(w: str) -> str:
            while len(w) < target * self.rng.uniform(0.8, 1.2):
                w += self.rng.choice(pool).lower()
            return w

        return self.sprinkle(self.paragraphs(sentences), 1.0, compound)

    def short_words(self) -> str:
        """Mean word length around the minimum: one-letter words and digits among the words (replacing words in
        spaced scripts, inserted between characters in the others)."""
        text = self.paragraphs(self.prose_sentences(3, 20))
        letters = sorted({c for c in text if c.isalpha()}) + [str(d) for d in range(10)]
        here = len(re.sub(r"\s", "", text)) / self.units(text)  # characters per word now
        target = self.rng.uniform(0.6, 1.4) * max(self.config["min_avg_word_length"], 1.5)
        if self.by_char:  # k one-letter words per word: (here + k) / (1 + k) = target
            k = max(0.0, (here - target) / max(target - 1, 0.1))
            many = max(1, round(k))
            return self.sprinkle(text, min(1.0, k), lambda c: c + " " + " ".join(
                self.rng.choice(letters) for _ in range(many)) + " ")
        share = min(1.0, max(0.0, (here - target) / max(here - 1, 0.1)))  # (1 - s) * here + s = target
        return self.sprinkle(text, share, lambda w: self.rng.choice(letters))

    def mixed(self) -> str:
        makers = [self.prose, self.word_list, self.dup_lines, self.top_ngram, self.dup_passage, self.numbers,
                  self.end_ellipsis, self.prose_lines]
        return "\n".join(self.rng.choice(makers)() for _ in range(self.rng.randint(2, 3)))

    def huge(self, words: int) -> str:
        lines, count = [], 0
        while count < words:
            s = self.sentence()
            lines.append(s)
            count += self.units(s)
        return self.paragraphs(lines)

    def document(self, kind: str) -> str:
        special = {"list": self.word_list, "stopwords": self.stopwords_kind}
        return (special.get(kind) or getattr(self, kind))()


def stratified(n: int, rng: random.Random) -> list[str]:
    """n kinds in the proportions of KINDS (largest remainders), shuffled."""
    total = sum(KINDS.values())
    exact = {kind: n * weight / total for kind, weight in KINDS.items()}
    counts = {kind: int(x) for kind, x in exact.items()}
    for kind in sorted(exact, key=lambda k: counts[k] - exact[k])[:n - sum(counts.values())]:
        counts[kind] += 1
    kinds = [kind for kind, count in counts.items() for _ in range(count)]
    rng.shuffle(kinds)
    return kinds


def line_ends(text: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.1:
        return text + "\n"
    if r < 0.13:
        return text.replace("\n", "\r\n")
    return text


def build(languages: list[str], per_language: int, seed: int, data: Path = DATA) -> list[dict]:
    lingua = load_lingua(data)
    long_latin = sorted({w for w in lingua["deu_Latn"]["single-words"] if len(w) >= 12})
    docs = []
    for code in languages:
        rng = random.Random(f"{seed}-{code}")  # a language's documents do not depend on the other languages
        gen = Generator(code, lingua[code], load_config(code, data), rng, long_latin)
        kinds = stratified(per_language, rng)
        for i, kind in enumerate(kinds):
            docs.append({"id": f"{code}/{i:04d}-{kind}", "lang": code, "kind": kind,
                         "text": line_ends(gen.document(kind), rng)})
        for j, factor in enumerate((0.95, 1.08)):  # around the 100,000-word maximum
            docs.append({"id": f"{code}/huge-{j}", "lang": code, "kind": "huge", "text": gen.huge(int(100_000 * factor))})
        for j, text in enumerate(("", "\n\n", " ", "...", "- • -\n#")):
            docs.append({"id": f"{code}/empty-{j}", "lang": code, "kind": "empty", "text": text})
    if "deu_Latn" in languages:
        rng = random.Random(f"{seed}-pages")
        gen = Generator("deu_Latn", lingua["deu_Latn"], load_config("deu_Latn", data), rng, long_latin)
        for i, (url, text) in enumerate(german_pages(data)):
            docs.append({"id": f"deu_Latn/page-{i:03d}", "lang": "deu_Latn", "kind": "page", "text": text, "url": url})
            if rng.random() < 0.3:
                lines = text.split("\n")
                extra = rng.choice((lambda: "\n".join(rng.choice(lines) for _ in range(rng.randint(1, 8))),
                                    lambda: gen.word_list(5, 40), gen.dup_passage))
                docs.append({"id": f"deu_Latn/page-{i:03d}-mixed", "lang": "deu_Latn", "kind": "page_mixed",
                             "text": text + "\n" + extra(), "url": url})
    return docs


#: The rules of datatrove's three filters in their order (the coverage table's columns); FineWeb-2 turns off the
#: paragraph and line-character repetition rules, so they are not listed.
RULE_ORDER = {
    "gopher_repetition": ["dup_line_frac", "top_2_gram", "top_3_gram", "top_4_gram",
                          *(f"duplicated_{n}_n_grams" for n in range(5, 11))],
    "fineweb_quality": ["line_punct_ratio", "short_line_ratio", "char_dup_ratio", "list_ratio"],
    "gopher_quality": ["gopher_short_doc", "gopher_long_doc", "gopher_below_avg_threshold",
                       "gopher_above_avg_threshold", "gopher_too_many_hashes", "gopher_too_many_ellipsis",
                       "gopher_too_many_bullets", "gopher_too_many_end_ellipsis", "gopher_below_alpha_threshold",
                       "gopher_enough_stop_words"],
}
INTEGER_RULES = {"gopher_short_doc", "gopher_long_doc", "gopher_enough_stop_words"}
NOT_FRACTIONS = INTEGER_RULES | {"gopher_below_avg_threshold", "gopher_above_avg_threshold"}


def can_fail(rule: str, threshold: float, bound: str) -> bool:
    """Whether any text can fail the rule: not a fraction's maximum of 1 or more (FineWeb-2's short-line 999), a
    minimum of 0, or a minimum mean word length of 1 (every word has a character)."""
    if bound == "max":
        return rule in NOT_FRACTIONS or threshold < 1
    return threshold > (1 if rule == "gopher_below_avg_threshold" else 0)


def near_window(threshold: float, integer: bool) -> float:
    """How close to a threshold counts as near: 10 % of it, at least 1 for counts."""
    return max(1.0, 0.1 * threshold) if integer else 0.1 * abs(threshold)


def coverage(decisions) -> dict:
    """Per filter, language and rule, from the peer's decisions and signals: documents the rule rejects (the first
    failing rule), documents beyond its threshold, and documents near it on the failing and on the passing side."""
    table: dict = {}
    for d in decisions:
        per_rule = table.setdefault(d["filter"], {}).setdefault(d["lang"], {})
        for rule, (value, threshold, bound) in d["signals"].items():
            cell = per_rule.setdefault(rule, {"rejects": 0, "fails": 0, "near_fail": 0, "near_pass": 0,
                                              "threshold": threshold, "can_fail": can_fail(rule, threshold, bound)})
            if value != value:  # NaN: the rule does not apply
                continue
            w = near_window(threshold, rule in INTEGER_RULES)
            fails = value > threshold if bound == "max" else value < threshold
            cell["fails"] += fails
            cell["near_fail" if fails else "near_pass"] += abs(value - threshold) <= w
        if d["reason"] in per_rule:
            per_rule[d["reason"]]["rejects"] += 1
    return table


def print_coverage(table: dict, out=sys.stdout) -> tuple[list[str], list[str]]:
    """One table per filter (a row per language; a cell per rule: rejects / beyond the threshold / near on the failing
    side / near on the passing side; `off` where FineWeb-2's config leaves nothing to fail); returns the rules that
    never reject in a language though they could, and those that cannot."""
    never, off = [], []
    for name, columns in RULE_ORDER.items():
        by_lang = table.get(name, {})
        print(f"\n{name}: per rule, rejects / beyond the threshold / near it on the failing side / on the passing side",
              file=out)
        print("lang      " + " ".join(f"{r.removeprefix('gopher_')[:13]:>13}" for r in columns), file=out)
        for lang in sorted(by_lang):
            cells = []
            for rule in columns:
                c = by_lang[lang].get(rule)
                if c is None or not c["can_fail"]:
                    cells.append(f"{'off':>13}")
                    off.append(f"{lang}:{rule}" + (f" (threshold {c['threshold']})" if c else " (not set)"))
                    continue
                cells.append(f"{c['rejects']}/{c['fails']}/{c['near_fail']}/{c['near_pass']}".rjust(13))
                if c["rejects"] == 0:
                    never.append(f"{lang}:{rule} (threshold {c['threshold']}, {c['fails']} beyond it)")
            print(f"{lang:9} " + " ".join(cells), file=out)
    return never, off


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-language", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--coverage", type=Path, metavar="DECISIONS",
                        help="print the coverage of the peer's decisions on this corpus instead of building it")
    args = parser.parse_args()
    if args.coverage:
        with open(args.coverage, encoding="utf-8") as f:
            never, off = print_coverage(coverage(map(json.loads, f)))
        print("\nnever rejects (though it could):", ", ".join(never) or "none")
        print("cannot reject (FineWeb-2's config):", ", ".join(off))
        return 0
    docs = build(args.languages.split(","), args.per_language, args.seed, args.data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in docs)
    counts = Counter(d["lang"] for d in docs)
    print(f"{len(docs)} documents, {len(counts)} languages -> {args.out}")
    print(" ".join(f"{k}:{v}" for k, v in sorted(counts.items())))
    print(" ".join(f"{k}:{v}" for k, v in Counter(d["kind"] for d in docs).most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
