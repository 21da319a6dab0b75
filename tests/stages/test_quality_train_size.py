"""`curate quality train` sized to its data: a small training set gives a small model file (DCLM's 2,000,000 buckets
made any model 800 MB), the size is said before training, and the card states it."""
from __future__ import annotations

import json
import random
import subprocess
import sys

from curate.testing import demo_texts
JUNK = "home login cart checkout menu share tweet subscribe cookie privacy terms contact sitemap click here".split()


def test_a_small_training_set_gives_a_small_model(tmp_path):
    rng, sentences = random.Random(0), demo_texts()
    (tmp_path / "good").mkdir()
    for i in range(60):
        (tmp_path / "good" / f"{i}.txt").write_text(" ".join(rng.sample(sentences, 4)))
    (tmp_path / "bad.jsonl").write_text("".join(
        json.dumps({"text": " | ".join(rng.choice(JUNK) for _ in range(30))}) + "\n" for _ in range(60)))
    model = tmp_path / "quality.bin"
    done = subprocess.run([sys.executable, "-m", "curate.cli.main", "quality", "train",
                           "--positive", str(tmp_path / "good"), "--negative", str(tmp_path / "bad.jsonl"),
                           "--model", str(model)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    size = model.stat().st_size
    card = json.loads(model.with_suffix(".json").read_text())
    assert size < 2_000_000, size  # DCLM's default bucket count: 800,000,000 bytes and more
    assert card["size_bytes"] == size
    words, bigrams = card["vocabulary"]["words"], card["vocabulary"]["bigrams"]
    assert card["hyperparameters"]["bucket"] == 2 * bigrams
    # said before training, to within the dictionary's few bytes per word
    said = " ".join(done.stderr.split()).split("model: about ", 1)[1]  # the console wraps long lines
    assert f"({words:,} words + {2 * bigrams:,} buckets for {bigrams:,} distinct word bigrams) x dim 100" in said
    assert "--bucket and --dim shrink it" in said
    assert 0 < size - 4 * 100 * (words + 2 * bigrams) < 40 * words
    assert card["heldout"]["auc"] > 0.9  # still tells the two apart


def test_vocabulary_counts_what_fasttext_hashes():
    from curate.cli.quality_train import sized_bucket, vocabulary

    # the label is not a word; each line ends in the word </s>
    assert vocabulary(["__label__hq a b a b", "__label__cc b a"]) == (3, 4)  # a b </s>; ab ba b</s> a</s>
    assert sized_bucket(3_000_000) == 2_000_000
