"""Where the three FineWeb-2 filters spend their time per language: inside the word tokenizer's library, or in the
filters' own code, for curate and for datatrove on the same documents.

    python bench/multilingual_library_share.py [--corpus /tmp/curate-multilingual/throughput.jsonl]
        [--languages kor_Hang,tha_Thai,vie_Latn,hin_Deva,mar_Deva,ben_Beng,urd_Arab] [--rounds 2]
        [--datatrove-python /work/venvs/datatrove/bin/python]

The corpus is the throughput corpus `bench/multilingual_agreement.py` writes (its documents but the huge ones). Each
side runs in a fresh process per round, alternating, and times the three filters over each language's documents as
that bench does (after a warm-up text), with the tokenizer libraries' entry points wrapped by a CPU-time counter, the
same wrappers on both sides: Kiwi's ``tokenize``, PyThaiNLP's ``word_tokenize``, Indic NLP's ``trivial_tokenize``,
spaCy's Vietnamese tokenizer (datatrove calls it; curate calls the pyvi segmentation inside it, also wrapped); for Thai,
curate's own ``newmm-safe`` (``curate.filters.thai_words.words``, the same words) stands where the library was. What is
not in the library is the side's own: splitting, stripping, the signals, the decisions. Best round per side.
A language whose library time is the same on both sides cannot go faster than (datatrove's total) / (the library's
time) however little the rest costs.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIGS = HERE.parents[1] / "shared" / "data" / "fineweb-2" / "configs"


def wrap_libraries(spent: dict[str, float], side: str) -> None:
    """Count the CPU seconds spent inside each tokenizer library's entry point into `spent`."""
    import indicnlp.tokenize.indic_tokenize as indic
    import kiwipiepy
    import pythainlp.tokenize
    import spacy.lang.vi as spacy_vi

    def timed(name, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            started = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.process_time() - started
        return wrapper

    pythainlp.tokenize.word_tokenize = timed("library", pythainlp.tokenize.word_tokenize)
    indic.trivial_tokenize = timed("library", indic.trivial_tokenize)
    kiwipiepy.Kiwi.tokenize = timed("library", kiwipiepy.Kiwi.tokenize)
    vi = spacy_vi.VietnameseTokenizer
    vi.__call__ = timed("library", vi.__call__)  # datatrove: the whole tokenizer (pyvi, then spaCy's Doc)
    vi.pyvi_tokenize = timed("pyvi", vi.pyvi_tokenize)  # curate: pyvi's words alone (inside __call__ for datatrove)
    if side == "curate":  # curate computes PyThaiNLP's words itself (the datatrove venv has no curate)
        from curate.filters import thai_words

        thai_words.words = timed("library", thai_words.words)


def one_side(side: str, corpus: Path, languages: list[str]) -> dict:
    spent: dict[str, float] = {}
    wrap_libraries(spent, side)
    docs: dict[str, list[dict]] = {lang: [] for lang in languages}
    with open(corpus, encoding="utf-8") as f:
        for d in map(json.loads, f):
            if d["lang"] in docs:
                docs[d["lang"]].append(d)
    result = {}
    for lang, lang_docs in docs.items():
        if side == "curate":
            sys.path.insert(0, str(HERE))
            import multilingual_agreement as bench

            stages = list(bench.curate_stages(keep_signals=False).values())
            for stage in stages:
                stage.process(bench.batches([{**lang_docs[0], "text": lang_docs[0]["text"][:50]}])[0])
            batches = bench.batches(lang_docs)

            def work():
                for batch in batches:
                    for stage in stages:
                        stage.process(batch)
        else:
            sys.path.insert(0, str(HERE / "peers"))
            import datatrove_fineweb2_filters as peer

            filters = list(peer.build_filters(lang, peer.configs(CONFIGS, [lang])[lang]).values())
            documents = [peer.Document(text=d["text"], id=d["id"]) for d in lang_docs]
            for f in filters:
                peer.decide(documents[0], f)

            def work():
                for doc in documents:
                    for f in filters:
                        peer.decide(doc, f)
        spent.clear()
        started = time.process_time()
        work()
        total = time.process_time() - started
        library = spent.get("library", 0.0) if side == "datatrove" else spent.get("library", 0.0) + spent.get("pyvi", 0.0)
        result[lang] = {"documents": len(lang_docs), "total_cpu_s": total, "library_cpu_s": library}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/curate-multilingual/throughput.jsonl"))
    parser.add_argument("--languages", default="kor_Hang,tha_Thai,vie_Latn,hin_Deva,mar_Deva,ben_Beng,urd_Arab")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--datatrove-python", type=Path, default=Path("/work/venvs/datatrove/bin/python"))
    parser.add_argument("--side", choices=("curate", "datatrove"), help=argparse.SUPPRESS)  # one round, this process
    args = parser.parse_args()
    languages = args.languages.split(",")
    if args.side:
        print(json.dumps(one_side(args.side, args.corpus, languages)))
        return 0
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    best: dict[str, dict] = {"curate": {}, "datatrove": {}}
    loads = []
    for r in range(args.rounds):
        for side in (("curate", "datatrove") if r % 2 == 0 else ("datatrove", "curate")):
            loads.append(os.getloadavg()[0])
            python = sys.executable if side == "curate" else str(args.datatrove_python)
            out = subprocess.run([python, __file__, "--side", side, "--corpus", str(args.corpus),
                                  "--languages", args.languages], check=True, capture_output=True, text=True, env=env)
            for lang, row in json.loads(out.stdout.strip().splitlines()[-1]).items():
                if lang not in best[side] or row["total_cpu_s"] < best[side][lang]["total_cpu_s"]:
                    best[side][lang] = row
    print(f"CPU seconds of the three filters, best of {args.rounds} alternating rounds (load average 1 min: "
          f"{min(loads):.1f}-{max(loads):.1f}): total = library + own")
    print(f"{'lang':9} {'docs':>5} {'curate':>22} {'datatrove':>22} {'ratio':>6} {'bound':>6}")
    for lang in languages:
        c, d = best["curate"][lang], best["datatrove"][lang]
        cell = lambda x: f"{x['total_cpu_s']:.2f} = {x['library_cpu_s']:.2f} + {x['total_cpu_s'] - x['library_cpu_s']:.2f}"
        bound = d["total_cpu_s"] / min(c["library_cpu_s"], d["library_cpu_s"]) if c["library_cpu_s"] else float("inf")
        print(f"{lang:9} {c['documents']:>5} {cell(c):>22} {cell(d):>22} {d['total_cpu_s'] / c['total_cpu_s']:>6.2f} "
              f"{bound:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
