"""A fastText quality model: the text preparation it was trained with, its model card, and its score per text.

Shared by the `quality_classifier` stage (scoring) and `curate quality train` (training text, held-out scores), so a
model is always fed text prepared the way it was trained. The card (`<model>.json`, written by `curate quality
train`) says whether the training text was lower-cased; without one, text is prepared as DCLM's published scorer
does (newlines to spaces, case kept).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from curate.filters import fasttext_file


class ModelError(ValueError):
    """The model file cannot score: not a fastText model, or without the positive label."""


def prepare(text: str | None, lowercase: bool) -> str:
    """One line of text for fastText, lower-cased for models trained so (DCLM's recipe as `curate quality train`
    applies it). Newlines become spaces: fastText reads a newline as the end of a line, and splits words at any run of
    whitespace, so this is the whole of whitespace normalisation as fastText sees words (a regex collapsing the runs
    gives the same tokens at 3x the cost)."""
    line = (text or "").replace("\n", " ")
    return line.lower() if lowercase else line


def card_path(model: str) -> Path:
    """The model card beside a model file: `quality.bin` -> `quality.json`."""
    return Path(model).with_suffix(".json")


class FastTextScorer:
    """A fastText supervised model: the probability of the positive label for each text."""

    def __init__(self, model: str, label: str) -> None:
        try:  # walked whole, loaded, tried on one line: a cut or foreign file never loads (filters/fasttext_file.py)
            self.model = fasttext_file.load(model)
        except fasttext_file.ModelFileError as error:
            raise ModelError(f"model {model!r} is not a whole fastText classifier: {error}") from None
        if label not in self.model.labels:
            raise ModelError(f"quality_classifier: the model {model!r} has no label {label!r} "
                             f"(labels: {', '.join(self.model.labels)}); set quality_classifier.label")
        card = card_path(model)
        self.lowercase = json.loads(card.read_text())["preprocess"]["lowercase"] if card.is_file() else False
        self.label = label

    def __call__(self, texts: list[str | None]) -> np.ndarray:
        labels, probs = self.model.predict([prepare(t, self.lowercase) for t in texts], k=-1)
        label = self.label
        return np.array([p[ls.index(label)] if label in ls else 0.0 for ls, p in zip(labels, probs)], np.float32)
