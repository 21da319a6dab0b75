"""Hostile WARCs read in ranges give the rows of the file read whole: cuts go only where the framing is beyond doubt.

The cases are bench/fuzz.py's structure-aware mutations (reliability_framing): Content-Lengths off by a few bytes or
by whole records, records cut short, cut headers, duplicated and swapped records, garbage between records; in every
container (plain, gzip per record, gzip whole, zstd per record). A range split that put a cut inside what the whole file's reader frames
differently (a record a wrong length swallows, a resynchronisation) would show here as a changed, lost or extra row.
"""
from __future__ import annotations

import dataclasses
import random

import pyarrow as pa

import reliability_framing as framing
from curate.pipeline.config import InputConfig
from curate.pipeline.inputs import InputFile, Unsplittable, read, split
from curate.pipeline.ledger import ReaderLedger

SPLIT = 600  # bytes: the generated records are 1-2 KB, so most files get a cut at most records


def rows(files: list[InputFile], cfg: InputConfig) -> dict:
    batches = [batch for file in files for batch in read(file, cfg, ReaderLedger(file.rel))]
    return pa.Table.from_batches(batches).to_pydict() if batches else {}


def test_hostile_warcs_read_in_ranges_give_the_rows_of_the_whole_file(tmp_path):
    rng, cut = random.Random(20261207), {}
    for container in framing.CONTAINERS:
        for mutation in framing.MUTATIONS:
            for _ in range(12):
                path, _ = framing.Case(rng.getrandbits(32), container, mutation).build(tmp_path)
                cfg = InputConfig(paths=[str(path)], dataset="fuzz")
                file = InputFile(str(path), path.name, path.stat().st_size, "warc")
                try:
                    parts = split(file, SPLIT)
                except Unsplittable:
                    parts = []
                assert not parts or container != "gzip_whole"
                if parts:
                    cut[container] = cut.get(container, 0) + 1
                    ranges = [dataclasses.replace(file, part=part) for part in parts]
                    assert rows(ranges, cfg) == rows([file], cfg), (container, mutation, path.name)
                path.unlink()
    assert all(cut.get(c, 0) >= 40 for c in ("plain", "gzip_members", "zstd_frames")), cut
