"""A fastText model file walked as fastText's own loader reads it, with bounds, before fastText is let near it.

fastText's loader (`FastText::loadModel`, src/fasttext.cc, file format version 12) trusts the file: it allocates and
reads every count as written, and reads each word of the dictionary up to a zero byte, past the end of the file if
need be. A fastText header followed by other bytes made it loop (stopped after 20 s and 1 GB, here); a `.bin` cut in
half loaded with zeros for the missing weights and scored every text 0.5 for either label. `check` walks the same
layout with every count bounded by the bytes left, and the walk must end exactly at the end of the file:

    magic int32 = 793712314, version int32 (11 or 12)
    args: dim ws epoch minCount neg wordNgrams loss model bucket minn maxn lrUpdateRate (int32 each), t (float64)
    dictionary: size nwords nlabels (int32), ntokens pruneidx_size (int64), `size` entries (the word's bytes, a zero
                byte, count int64, type int8), then `pruneidx_size` pairs of int32 (a pruned, quantized model)
    quant_input (bool), the input matrix, qout (bool), the output matrix
    dense matrix: m n (int64), m * n float32
    quantized matrix: qnorm (bool), m n (int64), codesize (int32), `codesize` bytes, a product quantizer, and with
                      qnorm: m bytes and a second product quantizer
    product quantizer: dim nsubq dsub lastdsub (int32), dim * 256 float32

A dense model's matrices are also checked against the header's dimensions: (nwords + bucket) x dim in, nlabels x dim
out. `load` then lets fastText load the file and predicts one line: every score must be a probability.
"""
from __future__ import annotations

import math
import mmap
import os
import struct

MAGIC = 793712314
VERSIONS = (11, 12)
SUPERVISED = 3  # args.model: cbow 1, skipgram 2, supervised 3
LOSSES = (1, 2, 3, 4)  # hs, ns, softmax, one-vs-all
CENTROIDS = 256  # a product quantizer's centroids per sub-quantizer (8 bits)
TEST_LINE = "This is a short test sentence, to see the model answer."
_ARGS = struct.Struct("<12id")
_DICTIONARY = struct.Struct("<iiiqq")
_ENTRY_TAIL = 9  # count int64, type int8


class ModelFileError(ValueError):
    """The file is not a whole fastText classifier; the message says where it stops making sense."""


class _Reader:
    """Bounded reads from a memory-mapped file: every read names what it reads, and fails past the end."""

    def __init__(self, data: mmap.mmap | bytes):
        self.data, self.at = data, 0

    def take(self, size: int, what: str) -> int:
        """The offset of `size` bytes of `what`, which must lie before the end of the file."""
        if size < 0 or self.at + size > len(self.data):
            needs = f"{size:,} bytes" if size >= 0 else f"a negative size ({size:,})"
            raise ModelFileError(f"it ends inside its {what} (at byte {len(self.data):,}; the {what} needs {needs} "
                                 f"from byte {self.at:,})")
        at, self.at = self.at, self.at + size
        return at

    def unpack(self, layout: struct.Struct, what: str) -> tuple:
        return layout.unpack_from(self.data, self.take(layout.size, what))

    def words(self, count: int) -> None:
        """`count` dictionary entries: a word up to its zero byte, then its count and type (a tight loop: a
        dictionary of 2M words is walked in about a second)."""
        find, at, end = self.data.find, self.at, len(self.data)
        for index in range(count):
            zero = find(b"\0", at)
            if zero < 0 or zero + 1 + _ENTRY_TAIL > end:
                raise ModelFileError(f"it ends inside entry {index + 1:,} of its dictionary of {count:,} (at byte "
                                     f"{end:,})")
            at = zero + 1 + _ENTRY_TAIL
        self.at = at


def check(path: str | os.PathLike) -> dict:
    """Walk the file as fastText would load it; its header's figures when it is a whole fastText classifier, else
    ModelFileError. Reads nothing beyond the file and allocates nothing a count in it asks for."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise ModelFileError("it is empty")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _walk(_Reader(data), size)


def _walk(read: _Reader, size: int) -> dict:
    magic, version = read.unpack(struct.Struct("<ii"), "header")
    if magic != MAGIC:
        raise ModelFileError(f"it does not start as a fastText model does (magic number {magic}, not {MAGIC})")
    if version not in VERSIONS:
        raise ModelFileError(f"it is fastText file format version {version}; fastText reads {VERSIONS}")
    dim, _, _, _, _, _, loss, model, bucket, _, _, _, _ = read.unpack(_ARGS, "settings")
    if model != SUPERVISED:
        raise ModelFileError(f"it is a word-vector model (fastText model {model}), not a classifier")
    if dim <= 0 or bucket < 0 or loss not in LOSSES:
        raise ModelFileError(f"its settings make no sense (dim {dim}, bucket {bucket}, loss {loss})")
    entries, nwords, nlabels, _, pruned = read.unpack(_DICTIONARY, "dictionary header")
    if min(entries, nwords, nlabels) < 0 or entries != nwords + nlabels or nlabels == 0:
        raise ModelFileError(f"its dictionary header makes no sense ({entries:,} entries, {nwords:,} words, "
                             f"{nlabels:,} labels)")
    if entries * (_ENTRY_TAIL + 1) > size - read.at:  # each entry takes 10 bytes at least
        raise ModelFileError(f"its dictionary claims {entries:,} entries, more than the {size - read.at:,} bytes "
                             "left could hold")
    read.words(entries)
    if pruned > 0:
        read.take(8 * pruned, "pruned n-gram index")
    quantized = _flag(read, "input matrix flag")
    in_rows = nwords + (pruned if quantized and pruned >= 0 else bucket)
    _matrix(read, quantized, "input matrix", (in_rows, dim))
    _matrix(read, _flag(read, "output matrix flag") and quantized, "output matrix", (nlabels, dim))
    if read.at != size:
        raise ModelFileError(f"it has {size - read.at:,} bytes after its output matrix (a model is {read.at:,} "
                             "bytes); it is not one fastText file")
    return {"version": version, "dim": dim, "words": nwords, "labels": nlabels, "bucket": bucket,
            "quantized": quantized}


def _flag(read: _Reader, what: str) -> bool:
    value = read.data[read.take(1, what)]
    if value not in (0, 1):
        raise ModelFileError(f"its {what} is byte {value}, not a boolean")
    return bool(value)


def _matrix(read: _Reader, quantized: bool, what: str, shape: tuple[int, int]) -> None:
    if quantized:
        qnorm = _flag(read, f"{what}'s norm flag")
    rows, columns = read.unpack(struct.Struct("<qq"), f"{what}'s shape")
    if (rows, columns) != shape:
        raise ModelFileError(f"its {what} is {rows:,} x {columns:,}, where its header makes it {shape[0]:,} x "
                             f"{shape[1]:,}")
    if not quantized:
        read.take(rows * columns * 4, what)
        return
    (codes,) = read.unpack(struct.Struct("<i"), f"{what}'s code size")
    nsubq = _quantizer(read, f"{what}'s quantizer", columns, codes, rows)
    if codes != rows * nsubq:
        raise ModelFileError(f"its {what} has {codes:,} codes for {rows:,} rows of {nsubq} sub-quantizers")
    if qnorm:
        read.take(rows, f"{what}'s norm codes")
        _quantizer(read, f"{what}'s norm quantizer", 1, None, rows)


def _quantizer(read: _Reader, what: str, dim: int, codes: int | None, rows: int) -> int:
    """A product quantizer (after the codes it decodes, when `codes` is given); returns its sub-quantizer count."""
    if codes is not None:
        read.take(codes, f"{what[:-len(' quantizer')]} codes")
    found, nsubq, dsub, last = read.unpack(struct.Struct("<iiii"), what)
    if found != dim or nsubq <= 0 or dsub <= 0 or not 0 < last <= dsub or (nsubq - 1) * dsub + last != dim:
        raise ModelFileError(f"its {what} makes no sense (dim {found} for {dim}, {nsubq} x {dsub}, last {last})")
    read.take(dim * CENTROIDS * 4, f"{what}'s centroids")
    return nsubq


def load(path: str | os.PathLike):
    """The fastText classifier at `path`: walked whole (`check`), loaded by fastText, and asked about one line, whose
    scores must be probabilities. ModelFileError otherwise (its message says what is wrong, not where the file is)."""
    check(path)
    import fasttext

    try:
        model = fasttext.load_model(str(path))
    except ValueError as error:
        raise ModelFileError(f"fastText cannot load it ({error})") from None
    labels, scores = model.predict(TEST_LINE, k=-1)
    if not labels or not all(math.isfinite(s) and -1e-6 <= s <= 1 + 1e-4 for s in scores):
        shown = ", ".join(f"{s:g}" for s in list(scores)[:3])
        raise ModelFileError(f"its test prediction is not a probability per label ({len(labels)} labels: {shown})")
    return model
