"""Seeded 64-bit hashes of document uids, vectorised: the draws every engine and machine must make the same.

Balance's down-sampling, the quality classifier's tie-break, the train/validation split and the tokenizer's training
sample each hash the 16-byte `uid` with a seed and a salt of their own, so their draws are independent of each other.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from curate.filters.ngrams import mix64


def _mix(x: np.ndarray) -> np.ndarray:
    """One splitmix64 step on uint64 arrays: the golden-ratio increment, then the finaliser."""
    return mix64(x + np.uint64(0x9E3779B97F4A7C15))


def uid_hash(uids: pa.Array, seed: int, salt: int = 0) -> np.ndarray:
    """A seeded 64-bit hash (uint64) of each 16-byte uid, vectorised: the same on every machine and engine."""
    uids = uids.combine_chunks() if isinstance(uids, pa.ChunkedArray) else uids
    if uids.null_count:
        raise ValueError("uid_hash: null uids")
    words = np.frombuffer(uids.buffers()[1], dtype="<u8")[2 * uids.offset: 2 * (uids.offset + len(uids))]
    lo, hi = words[0::2], words[1::2]
    with np.errstate(over="ignore"):
        key = _mix(np.array([(seed * 0x100000001B3 + salt) & ((1 << 64) - 1)], dtype=np.uint64))[0]
        return _mix(lo ^ _mix(hi ^ key))


def unit_interval(hashes: np.ndarray) -> np.ndarray:
    """uint64 hashes as floats in [0, 1)."""
    return (hashes >> np.uint64(11)).astype(np.float64) / float(1 << 53)
