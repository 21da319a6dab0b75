"""decontaminate: drops documents (or cuts the passages) that share a word n-gram with a benchmark's test items.

The method of GPT-3 (Brown et al. 2020, App. C) and its successors: normalised 13-grams (lowercase, punctuation
stripped, whitespace collapsed — :mod:`curate.filters.ngrams`) of every benchmark item form an index, and a document
with any of those n-grams overlaps the benchmark. Items shorter than `n` words give no n-gram and cannot be found
(the index records how many there were). A match needs the words verbatim: paraphrases are not found.

The index is a sorted array of uint64 hashes (and beside it, which benchmark each came from), built once from the
benchmark files and cached under a name that is a hash of the files' bytes, the layouts and `n`; every worker
memory-maps the same file rather than unpickling a set. Lookup is `np.searchsorted` over a batch's n-grams.

Layouts: `jsonl` and `csv` (with a header) take `fields`, joined per item; `gsm8k` is JSONL with `question` and
`answer`; `mmlu` is the original release's header-less CSV (question, four choices, answer letter: the letter is not
indexed). A `path` is a file, a directory (its .jsonl/.csv files) or a glob.

Modes: `reject` (reason `<benchmark>`: the benchmark with most matching n-grams) or `remove`, which cuts each
overlapping run of words out of `text` and rejects only documents left without a word. Adds `<id>_ngrams`, the number
of the document's n-grams found in the index.
"""
from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from curate.filters.ngrams import Words, ngrams, word_spans, words
from curate.pipeline.errors import CurateError
from curate.pipeline.registry import register
from curate.pipeline.stage import Params, Stage, emit

# Bump when normalisation or hashing changes: cached indexes of older versions are then rebuilt.
INDEX_VERSION = 1
_LAYOUT_FIELDS = {"gsm8k": ["question", "answer"]}
_SUFFIXES = {"jsonl": (".jsonl", ".json"), "gsm8k": (".jsonl", ".json"), "csv": (".csv",), "mmlu": (".csv",)}


class Benchmark(BaseModel):
    """One benchmark to decontaminate against."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$", description="the reject rule: decontaminate:<name>")
    path: str = Field(description="a file, a directory of .jsonl/.csv files, or a glob")
    layout: Literal["jsonl", "csv", "gsm8k", "mmlu"] = "jsonl"
    fields: list[str] | None = Field(None, description="fields joined into the indexed text (jsonl, csv; gsm8k: "
                                                       "question, answer)")

    @model_validator(mode="after")
    def _fields_fit_layout(self) -> Benchmark:
        if self.layout in ("jsonl", "csv") and not self.fields:
            raise ValueError(f"layout {self.layout} needs `fields`: the columns whose text is indexed")
        if self.layout == "mmlu" and self.fields:
            raise ValueError("layout mmlu has fixed columns (question, choices A-D); leave `fields` out")
        return self

    def files(self) -> list[Path]:
        path = Path(self.path)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES[self.layout] and p.is_file())
        elif any(ch in self.path for ch in "*?["):
            found = sorted(Path(p) for p in glob.glob(self.path, recursive=True) if Path(p).is_file())
        else:
            found = [path] if path.is_file() else []
        if not found:
            raise CurateError(f"decontaminate: benchmark {self.name!r}: no {'/'.join(_SUFFIXES[self.layout])} "
                              f"file at {self.path!r} (benchmarks[].path)")
        return found

    def items(self) -> list[str]:
        """The text of every item: its fields joined by a space."""
        out: list[str] = []
        for file in self.files():
            with file.open(encoding="utf-8", newline="") as stream:
                if self.layout in ("jsonl", "gsm8k"):
                    fields = self.fields or _LAYOUT_FIELDS["gsm8k"]
                    for number, line in enumerate(stream, 1):
                        if not line.strip():
                            continue
                        try:
                            record = json.loads(line)
                        except json.JSONDecodeError:
                            raise CurateError(f"decontaminate: {file}:{number} is not JSON") from None
                        out.append(" ".join(str(record[f]) for f in fields if record.get(f) is not None))
                elif self.layout == "csv":
                    out += [" ".join(row.get(f) or "" for f in self.fields) for row in csv.DictReader(stream)]
                else:  # mmlu: question, A, B, C, D, answer
                    out += [" ".join(row[:5]) for row in csv.reader(stream) if row]
        return out


class DecontaminateParams(Params):
    benchmarks: list[Benchmark] = Field(min_length=1, description="the benchmarks whose test items must not leak")
    n: int = Field(13, ge=3, le=64, description="words per n-gram")
    mode: Literal["reject", "remove"] = Field("reject", description="reject the document, or cut the overlapping "
                                                                    "passage out of its text")
    cache_dir: str | None = Field(None, description="where the index is cached; none = $CURATE_CACHE or "
                                                    "~/.cache/curate, under decontaminate/")


class Index:
    """Sorted n-gram hashes with the benchmark each came from; memory-mapped from the cache."""

    def __init__(self, hashes: np.ndarray, owners: np.ndarray, names: list[str]):
        self.hashes, self.owners, self.names = hashes, owners, names

    def lookup(self, values: np.ndarray) -> np.ndarray:
        """For each hash, the index of its benchmark, or -1."""
        if len(self.hashes) == 0 or len(values) == 0:
            return np.full(len(values), -1, np.int64)
        at = np.minimum(np.searchsorted(self.hashes, values), len(self.hashes) - 1)
        found = self.hashes[at] == values
        return np.where(found, self.owners[at].astype(np.int64), -1)


def index_key(benchmarks: list[Benchmark], n: int) -> str:
    """What the index depends on: the benchmark files' bytes, how they are read, n and the hashing version."""
    digest = hashlib.sha256(f"v{INDEX_VERSION} n={n}".encode())
    for bench in benchmarks:
        digest.update(json.dumps([bench.name, bench.layout, bench.fields]).encode())
        for file in bench.files():
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()[:32]


def build_index(benchmarks: list[Benchmark], n: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """(sorted unique hashes, owner benchmark of each, metadata). A hash in two benchmarks goes to the first."""
    all_hashes, all_owners, meta = [], [], {"n": n, "version": INDEX_VERSION, "benchmarks": []}
    for owner, bench in enumerate(benchmarks):
        items = bench.items()
        batch = words(pa.array(items, pa.string()))
        grams = ngrams(batch, n)
        all_hashes.append(grams.hashes)
        all_owners.append(np.full(len(grams.hashes), owner, np.uint16))
        meta["benchmarks"].append({"name": bench.name, "items": len(items), "ngrams": len(grams.hashes),
                                   "items_shorter_than_n": int((batch.counts < n).sum())})
    hashes = np.concatenate(all_hashes) if all_hashes else np.zeros(0, np.uint64)
    owners = np.concatenate(all_owners) if all_owners else np.zeros(0, np.uint16)
    unique, first = np.unique(hashes, return_index=True)  # first occurrence = lowest owner (benchmarks in order)
    meta["unique_ngrams"] = len(unique)
    return unique, owners[first], meta


def _cache_root(cache_dir: str | None) -> Path:
    if cache_dir:
        return Path(cache_dir)
    return Path(os.environ.get("CURATE_CACHE") or Path.home() / ".cache" / "curate") / "decontaminate"


def load_index(benchmarks: list[Benchmark], n: int, cache_dir: str | None = None) -> tuple[Index, dict]:
    """The cached index, built first if absent. Concurrent builders each write a temp file and rename: last wins."""
    root = _cache_root(cache_dir)
    key = index_key(benchmarks, n)
    meta_path = root / f"{key}.json"
    if not meta_path.is_file():
        hashes, owners, meta = build_index(benchmarks, n)
        try:
            root.mkdir(parents=True, exist_ok=True)
            for suffix, array in (("hashes", hashes), ("owners", owners)):
                with tempfile.NamedTemporaryFile(dir=root, suffix=".npy", delete=False) as tmp:
                    np.save(tmp, array)
                os.replace(tmp.name, root / f"{key}.{suffix}.npy")
            tmp_meta = root / f"{key}.json.{os.getpid()}"
            tmp_meta.write_text(json.dumps(meta, indent=1))
            os.replace(tmp_meta, meta_path)  # written last: marks the cache entry complete
        except OSError as error:
            raise CurateError(f"decontaminate: cannot write the index cache in {str(root)!r}: "
                              f"{error.strerror or error} (set cache_dir)") from None
    meta = json.loads(meta_path.read_text())
    hashes = np.load(root / f"{key}.hashes.npy", mmap_mode="r")
    owners = np.load(root / f"{key}.owners.npy", mmap_mode="r")
    return Index(hashes, owners, [b["name"] for b in meta["benchmarks"]]), meta


def cut(text: str, word_ranges: list[tuple[int, int]], n_words: int) -> str | None:
    """`text` without the characters from the first to the last word of each range (word indices, end exclusive).

    None when the text's words do not line up with the normalised words (a Unicode edge case): the caller rejects.
    """
    spans = word_spans(text)
    if len(spans) != n_words:
        return None
    pieces, at = [], 0
    for first, last in word_ranges:
        pieces.append(text[at: spans[first][0]])
        at = spans[last - 1][1]
    pieces.append(text[at:])
    return "".join(pieces)


def _merged(starts: np.ndarray, n: int) -> list[tuple[int, int]]:
    """Sorted n-gram starts -> maximal word ranges [first, end) they cover."""
    ranges: list[tuple[int, int]] = []
    for start in np.sort(starts).tolist():
        if ranges and start <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], start + n)
        else:
            ranges.append((start, start + n))
    return ranges


@register
class Decontaminate(Stage):
    """Benchmark decontamination: documents sharing a 13-gram with a test set are rejected or have it cut."""

    name = "decontaminate"
    Params = DecontaminateParams
    files = ("benchmarks.path",)
    outputs = ("cache_dir",)

    def modifies(self) -> tuple[str, ...]:
        return ("text",) if self.params.mode == "remove" else ()

    def adds(self) -> dict[str, pa.DataType]:
        return {f"{self.id}_ngrams": pa.int32()}

    def setup(self) -> None:
        self.index, self.meta = load_index(self.params.benchmarks, self.params.n, self.params.cache_dir)

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        n, rows = self.params.n, batch.num_rows
        text = batch.column("text")
        batch_words: Words = words(text)
        grams = ngrams(batch_words, n)
        owner = self.index.lookup(grams.hashes)
        hit = owner >= 0
        matches = np.bincount(grams.doc[hit], minlength=rows)
        benchmarks = len(self.index.names)
        per_bench = np.bincount(grams.doc[hit] * benchmarks + owner[hit], minlength=rows * benchmarks)
        top = per_bench.reshape(rows, benchmarks).argmax(axis=1) if benchmarks else np.zeros(rows, np.int64)
        reasons: list[str | None] = [self.index.names[top[i]] if matches[i] else None for i in range(rows)]
        columns = {f"{self.id}_ngrams": pa.array(matches.astype(np.int32))}
        if self.params.mode == "remove":
            texts = text.to_pylist()
            for i in np.flatnonzero(matches).tolist():
                mine = hit & (grams.doc == i)
                kept = cut(texts[i], _merged(grams.start[mine], n), int(batch_words.counts[i]))
                if kept is not None and kept.strip() and any(c.isalnum() for c in kept):
                    texts[i], reasons[i] = kept, None
            columns["text"] = pa.array(texts, pa.string())
        return emit(batch, reasons, **columns)
