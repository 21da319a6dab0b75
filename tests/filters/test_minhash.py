"""MinHash core: shingles, signatures, band keys, sketches, band derivation."""
import numpy as np
import pyarrow as pa
import pytest

from curate.filters.minhash import (EMPTY, MinHasher, Shingles, bands_for, collision_probability, estimated_jaccard,
                                    sketch_jaccard)


def random_pair(rng, size: int, shared: int) -> tuple[np.ndarray, np.ndarray, float]:
    common = rng.integers(0, 2**63, size=shared, dtype=np.uint64)
    a = np.concatenate([common, rng.integers(0, 2**63, size=size - shared, dtype=np.uint64)])
    b = np.concatenate([common, rng.integers(0, 2**63, size=size - shared, dtype=np.uint64)])
    return a, b, shared / (2 * size - shared)


def test_identical_sets_have_identical_signatures_whatever_order_and_repeats():
    hasher = MinHasher()
    x = np.random.default_rng(0).integers(0, 2**63, size=300, dtype=np.uint64)
    shuffled = np.concatenate([x[::-1], x[:50]])
    sig = hasher.signatures_of(Shingles(np.concatenate([x, shuffled]), np.array([0, 300, 650])))
    assert sig.shape == (2, 112) and (sig[0] == sig[1]).all()
    assert (hasher.band_hashes(sig)[0] == hasher.band_hashes(sig)[1]).all()


def test_estimated_jaccard_is_unbiased_and_within_tolerance():
    rng = np.random.default_rng(1)
    hasher = MinHasher(num_perm=256, bands=32, rows=8)
    errors, sketch_errors = [], []
    for _ in range(100):
        a, b, true = random_pair(rng, 400, int(rng.integers(0, 400)))
        sig = hasher.signatures_of(Shingles(np.concatenate([a, b]), np.array([0, 400, 800])))
        errors.append(estimated_jaccard(sig[0], sig[1]) - true)
        sk = hasher.sketches(sig)
        sketch_errors.append(sketch_jaccard((sk[0] == sk[1]).sum(), 256) - true)
    for e in (np.array(errors), np.array(sketch_errors)):
        assert abs(e.mean()) < 0.01  # unbiased: 100 pairs, each with sd <= 0.031
        assert np.sqrt((e ** 2).mean()) < 0.035  # about sqrt(J(1-J)/256) at worst
        assert np.abs(e).max() < 0.13


def test_signatures_in_chunks_match_one_document_at_a_time():
    rng = np.random.default_rng(2)
    hasher = MinHasher(num_perm=16, bands=4, rows=4)
    sizes = [0, 5000, 1, 4095, 4097, 0, 3]  # documents across the 4096-shingle chunk boundaries
    x = rng.integers(0, 2**63, size=sum(sizes), dtype=np.uint64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    together = hasher.signatures_of(Shingles(x, offsets))
    a, b = hasher._params
    for i, (lo, hi) in enumerate(zip(offsets[:-1], offsets[1:])):
        expected = (a[:, None] * x[None, lo:hi] + b[:, None]).min(axis=1) if hi > lo else np.full(16, EMPTY)
        assert (together[i] == expected).all()


def test_word_shingles_ignore_case_punctuation_and_layout():
    hasher = MinHasher()
    sig = hasher.signatures(["The quick brown fox jumps over the lazy dog.",
                             "the QUICK brown fox -- jumps\n\nover the lazy dog",
                             "The quick brown fox jumps over the lazy cat."])
    assert (sig[0] == sig[1]).all()
    assert not (sig[0] == sig[2]).all()
    # 9 words: 5 five-word shingles; the last word changes 1 of them: J = 4 / 6
    assert hasher.shingles(["The quick brown fox jumps over the lazy dog."]).counts.tolist() == [5]


def test_short_and_empty_texts():
    hasher = MinHasher()
    shingles = hasher.shingles(["two words", "", None, "  ...  ", "Two, words!"])
    assert shingles.counts.tolist() == [1, 0, 0, 0, 1]
    assert shingles.hashes[0] == shingles.hashes[1]
    sig = hasher.signatures_of(shingles)
    assert (sig[1] == EMPTY).all() and (sig[0] == sig[4]).all()


def test_unspaced_scripts_are_split_by_text_words():
    hasher = MinHasher(ngram=2)
    # 今天天气很好 is 6 characters: 5 character bigrams (a whole run would be one shingle)
    assert hasher.shingles(["今天天气很好。"]).counts.tolist() == [5]
    thai = hasher.shingles(["ภาษาไทยง่าย"])  # clusters ภา ษา ไท ย ง่า ย: 5 bigrams
    assert thai.counts.tolist() == [5]
    mixed = hasher.shingles(["iPhone15 很好"])  # iphone15 很 好
    assert mixed.counts.tolist() == [2]


def test_char_shingles():
    hasher = MinHasher(shingle="char", ngram=3)
    shingles = hasher.shingles(["Abc, de", "abc de", "ab"])
    # "abc de" -> abc, bc_, c_d, _de: 4; punctuation runs become the one space
    assert shingles.counts.tolist() == [4, 4, 1]
    assert (shingles.hashes[:4] == shingles.hashes[4:8]).all()


def test_arrow_input_and_sliced_arrays():
    hasher = MinHasher()
    texts = pa.array(["x " * 20, "alpha beta gamma delta epsilon zeta", None, "alpha beta gamma delta epsilon zeta"])
    sig = hasher.signatures(texts.slice(1))
    assert (sig[0] == sig[2]).all() and (sig[1] == EMPTY).all()
    assert (hasher.signatures(pa.chunked_array([texts.slice(1, 1), texts.slice(3)]))[0] == sig[0]).all()


def test_band_keys_equal_exactly_when_a_band_is_equal():
    hasher = MinHasher(num_perm=16, bands=4, rows=4)
    sig = np.random.default_rng(3).integers(0, 2**63, size=(2, 16), dtype=np.uint64)
    sig[1, 4:8] = sig[0, 4:8]  # band 1 equal
    keys = hasher.band_hashes(sig)
    assert (keys[0] == keys[1]).tolist() == [False, True, False, False]
    same_rows_other_band = sig.copy()
    same_rows_other_band[0, 0:4] = sig[0, 4:8]
    assert hasher.band_hashes(same_rows_other_band)[0, 0] != keys[0, 1]  # the band index is in the key


def test_collision_probability_and_fineweb_curve():
    assert collision_probability(0.8, 14, 8) == pytest.approx(1 - (1 - 0.8 ** 8) ** 14)
    assert collision_probability(0.7, 14, 8) == pytest.approx(0.565, abs=0.01)
    assert collision_probability(0.85, 14, 8) > 0.98


def test_bands_for_minimises_the_error_area():
    bands, rows = bands_for(0.8, 112)
    assert bands * rows <= 112
    # the S-curve of the derived scheme is steepest near the threshold
    assert abs((1 / bands) ** (1 / rows) - 0.8) < 0.06
    grid = np.linspace(0, 1, 1001)

    def error(b, r, t=0.8):
        p = collision_probability(grid, b, r)
        return 0.5 * np.trapezoid(p[grid <= t], grid[grid <= t]) + 0.5 * np.trapezoid(1 - p[grid >= t],
                                                                                        grid[grid >= t])

    assert error(bands, rows) <= min(error(14, 8), error(7, 16), error(28, 4))
    low, high = bands_for(0.5, 112), bands_for(0.9, 112)
    assert low[1] < high[1]  # a higher threshold needs more rows per band
    with pytest.raises(ValueError):
        bands_for(1.0, 112)


def test_invalid_configurations():
    with pytest.raises(ValueError, match="exceeds num_perm"):
        MinHasher(num_perm=100, bands=14, rows=8)
    with pytest.raises(ValueError, match="shingle"):
        MinHasher(shingle="line")
