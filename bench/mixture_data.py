"""Builds the four-domain corpus of the mixture-search must-show from `../shared/data`, and its held-out sets.

    python bench/mixture_data.py OUT_DIR [--heldout 0.15] [--seed 0]
    curate ablate examples/mixture_search.yaml        # with OUT_DIR = mixture-data, as the example expects

Domains, each real text with its own statistics (the `domain` field of every JSONL line):
- `wiki`: WikiText-2 validation (`reference/wikitext-2-valid.txt`), one document per article section, its tokenization
  undone (` @-@ ` -> `-`, ` , ` -> `, `): encyclopedic English;
- `web_en`, `web_de`: the main text of the 990 trafilatura-eval pages (`extraction/trafilatura-eval/`), extracted by
  trafilatura (the library curate's `extract` stage runs) and split by fastText's lid.176 (the bundled model curate's
  `langid` loads) into English and German pages; other languages and empty pages are left out;
- `math`: GSM8K test (`benchmarks/gsm8k-test.jsonl`), one `Question: ... Answer: ...` document per problem.
A seeded hash of each document's key (article title, URL, question) holds out `--heldout` of each domain; the
held-out documents never enter `OUT_DIR/train/`. Held-out sets (`OUT_DIR/heldout/<domain>.jsonl`, at most
HELDOUT_BYTES each, so an evaluation is seconds on a CPU) and `target.jsonl`: the English held-out text, the same
number of bytes from wiki, web_en and math. The target is what the mixture search optimises in the example: English
text of three kinds, where the natural mixture spends a third of its tokens on German.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HELDOUT_BYTES = 60_000
TARGET_BYTES_PER_DOMAIN = 40_000
_UNDO = [(" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", "."), (" , ", ", "), (" . ", ". "), (" ; ", "; "), (" : ", ": "),
         (" 's", "'s"), ("( ", "("), (" )", ")"), (' " ', ' "')]


def held_out(key: str, fraction: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def wiki_documents() -> list[tuple[str, str]]:
    """(key, text): each section of each WikiText-2 validation article, with the dataset's tokenization undone."""
    docs, title, section, lines = [], "", "", []

    def flush():
        text = "\n".join(lines).strip()
        if len(text) > 200:
            docs.append((f"{title}/{section}", text))
        lines.clear()

    for raw in (DATA / "reference" / "wikitext-2-valid.txt").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        heading = re.fullmatch(r"(=+) (.*?) =+", line)
        if heading:
            flush()
            if len(heading.group(1)) == 1:
                title, section = heading.group(2), ""
            else:
                section = heading.group(2)
            lines.append(heading.group(2))
            continue
        for old, new in _UNDO:
            line = line.replace(old, new)
        if line:
            lines.append(line)
    flush()
    return docs


def web_documents() -> dict[str, list[tuple[str, str]]]:
    """(url, main text) of the trafilatura-eval pages, by the language lid.176 gives them (en, de)."""
    import trafilatura

    from curate.stages.langid import load_model, normalise

    model = load_model(None)
    pages = DATA / "extraction" / "trafilatura-eval"
    out: dict[str, list[tuple[str, str]]] = {"en": [], "de": []}
    for line in (pages / "index.jsonl").read_text(encoding="utf-8").splitlines():
        page = json.loads(line)
        html = gzip.decompress((pages / page["html"]).read_bytes()).decode("utf-8", errors="replace")
        text = trafilatura.extract(html, include_comments=False)
        if not text or len(text) < 200:
            continue
        labels, _ = model.predict(normalise(text, 2000))
        lang = labels[0].removeprefix("__label__")
        if lang in out:
            out[lang].append((page["url"], text))
    return out


def math_documents() -> list[tuple[str, str]]:
    docs = []
    for line in (DATA / "benchmarks" / "gsm8k-test.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        docs.append((item["question"], f"Question: {item['question']}\nAnswer: {item['answer']}"))
    return docs


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def first_bytes(texts: list[str], limit: int) -> list[str]:
    """Whole documents, in order, until `limit` UTF-8 bytes (at least one)."""
    out, size = [], 0
    for text in texts:
        if out and size + len(text.encode()) > limit:
            break
        out.append(text)
        size += len(text.encode())
    return out


def build(out: Path, fraction: float, seed: int) -> dict:
    web = web_documents()
    domains = {"wiki": wiki_documents(), "web_en": web["en"], "web_de": web["de"], "math": math_documents()}
    summary, heldout = {}, {}
    for name, docs in domains.items():
        train = [text for key, text in docs if not held_out(key, fraction, seed)]
        heldout[name] = [text for key, text in docs if held_out(key, fraction, seed)]
        write_jsonl(out / "train" / f"{name}.jsonl", [{"text": t, "domain": name} for t in train])
        kept = first_bytes(heldout[name], HELDOUT_BYTES)
        write_jsonl(out / "heldout" / f"{name}.jsonl", [{"text": t} for t in kept])
        summary[name] = {"train_documents": len(train), "train_bytes": sum(len(t.encode()) for t in train),
                         "heldout_documents": len(kept), "heldout_bytes": sum(len(t.encode()) for t in kept)}
    target = [t for name in ("wiki", "web_en", "math") for t in first_bytes(heldout[name], TARGET_BYTES_PER_DOMAIN)]
    write_jsonl(out / "heldout" / "target.jsonl", [{"text": t} for t in target])
    summary["target"] = {"documents": len(target), "bytes": sum(len(t.encode()) for t in target)}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--heldout", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(build(args.out, args.heldout, args.seed), indent=1))


if __name__ == "__main__":
    main()
