"""A rule set's decision on documents that share one set of thresholds, vectorised: the first signal past its bound.

A rule set's ``Thresholds`` name their bounds ``min_<stem>`` and ``max_<stem>``; the stem is the signal's name but for
the few in :data:`STEMS`. :func:`bounds` turns one ``Thresholds`` into a lower and an upper bound per signal (``-inf``
/ ``inf`` where there is none); :func:`first_failing` compares a documents x signals matrix with them at once. A
signal fails below its lower bound or above its upper one, never at it (datatrove's comparisons, for all three rule
sets), and a NaN signal never fails. The reason is the first failing signal in the rule set's order.
"""
from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["STEMS", "bounds", "first_failing"]

#: Signals whose bounds are not named after them: ``min_words`` bounds ``word_count``.
STEMS = {"word_count": "words", "stop_word_count": "stop_words", "kept_sentences": "sentences"}


def bounds(thresholds, signals: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper): one bound per signal, in `signals` order, from a rule set's ``Thresholds``."""
    values = dataclasses.asdict(thresholds)
    lower = np.array([values.get(f"min_{STEMS.get(s, s)}", -np.inf) for s in signals], np.float64)
    upper = np.array([values.get(f"max_{STEMS.get(s, s)}", np.inf) for s in signals], np.float64)
    return lower, upper


def first_failing(values: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                  signals: tuple[str, ...]) -> list[str | None]:
    """Per row of `values` (documents x signals): the first signal outside [lower, upper], or None."""
    failing = (values < lower) | (values > upper)
    first = failing.argmax(axis=1)
    return [signals[i] if fails else None for i, fails in zip(first.tolist(), failing.any(axis=1).tolist())]
