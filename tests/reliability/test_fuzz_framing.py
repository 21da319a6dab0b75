"""A sample of bench/fuzz.py's framing fuzz: structure-aware WARC mutations, no record lost or changed unreported.

Each case is checked against the generator's map of where it wrote every record (reliability_framing.check_case):
a record is a row, or inside a skip or break the reader reported; a kept page is exactly its record's; one row per
record seen; the reader ledger's byte counts add up. bench/fuzz.py runs >= 10,000 of them.
"""
from __future__ import annotations

import random

import pytest

import reliability_framing as framing

_RNG = random.Random(20261203)
DRAWN = [framing.Case(_RNG.getrandbits(32), container, mutation)
         for container in framing.CONTAINERS for mutation in framing.MUTATIONS for _ in range(8)]


@pytest.mark.parametrize("container", framing.CONTAINERS)
def test_a_cut_at_every_byte_of_a_member_loses_nothing_unreported(container, tmp_path):
    cases = framing.sweep_cases(7, container)
    assert len(cases) > 100
    for case in cases[::len(cases) // 150 + 1]:  # a sample of the sweep; the bench cuts at every byte
        path, records = case.build(tmp_path)
        result = framing.check_case(path, records)
        assert result.found + result.reported == sum(r.record_id is not None for r in records)
        # every cut inside a member is reported; in a plain file a cut in a record's CR/LF trailer leaves it whole
        assert result.file_error or container == "plain", case
        path.unlink()


def test_drawn_mutations_lose_nothing_unreported(tmp_path):
    counts = {"found": 0, "reported": 0}
    for case in DRAWN:
        path, records = case.build(tmp_path)
        result = framing.check_case(path, records)
        if case.mutation == "none":
            assert not result.file_error and result.reported == 0 and result.kept == result.found, case
        counts["found"] += result.found
        counts["reported"] += result.reported
        path.unlink()
    assert counts["found"] > 300 and counts["reported"] > 0
