"""domain: URL rules with their precedence, rule files, a column with a map, a fastText classifier."""
from __future__ import annotations

import random

import pyarrow as pa
import pytest

from curate.pipeline import config as pipeline_config
from curate.pipeline.errors import ConfigError, CurateError
from curate.stages.domain import Domain, DomainParams, load_rules

URLS = ["https://en.wikipedia.org/wiki/Spark", "http://notwikipedia.org/", "https://cs.mit.edu/a",
        "https://www.ox.ac.uk/x", "https://github.com/apache/spark/wiki/Home", "https://github.com/apache/spark",
        "https://USER@WWW.Wikipedia.ORG:443/", None, "not a url"]


def labels(batch: dict, **params) -> list[str]:
    stage = Domain(DomainParams(**params))
    stage.setup()
    out = stage.process(pa.RecordBatch.from_pydict(batch))
    assert out.column("reject_reason").null_count == out.num_rows  # labels only, never rejects
    return out.column("domain").to_pylist()


def test_url_rules_regex_then_most_specific_domain_then_longest_suffix():
    rules = [{"domain": "wikipedia.org", "label": "wiki"}, {"domain": "en.wikipedia.org", "label": "wiki_en"},
             {"suffix": ".edu", "label": "edu"}, {"suffix": ".uk", "label": "uk"},
             {"suffix": ".ac.uk", "label": "academic"}, {"domain": "github.com", "label": "code"},
             {"regex": r"^https?://github\.com/[^/]+/[^/]+/wiki", "label": "wiki"}]
    assert labels({"url": URLS}, rules=rules, default="web") == [
        "wiki_en", "web", "edu", "academic", "wiki", "code", "wiki", "web", "web"]


def test_rules_from_a_yaml_file_or_a_plain_list(tmp_path):
    (tmp_path / "rules.yaml").write_text("- {domain: github.com, label: code}\n- {suffix: .edu, label: edu}\n")
    (tmp_path / "rules.txt").write_text("# domain label\nwikipedia.org wiki\n\ngithub.com   code  # forge\n")
    assert labels({"url": URLS[:6]}, rules_file=str(tmp_path / "rules.yaml")) == [
        "other", "other", "edu", "other", "code", "code"]
    assert labels({"url": URLS[:6]}, rules_file=str(tmp_path / "rules.txt")) == [
        "wiki", "other", "other", "other", "code", "code"]
    (tmp_path / "bad.txt").write_text("github.com\n")
    with pytest.raises(CurateError, match="line 1: expected '<domain> <label>'"):
        load_rules(str(tmp_path / "bad.txt"))


def test_labels_from_a_column_with_or_without_a_map():
    batch = {"source": ["c4", "arxiv", None, "the pile/v1"]}
    assert labels(batch, column="source") == ["c4", "arxiv", "other", "the_pile_v1"]
    assert labels(batch, column="source", map={"arxiv": "papers"}, default="web") == ["web", "papers", "web", "web"]


def test_labels_from_a_fasttext_classifier(tmp_path):
    fasttext = pytest.importorskip("fasttext")
    rng = random.Random(0)
    vocab = {"code": "def function return import class module variable loop compile".split(),
             "cooking": "add salt pepper stir onions simmer oven bake butter".split()}
    lines = [f"__label__{label} " + " ".join(rng.choices(words, k=8)) for label, words in vocab.items() for _ in range(200)]
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    # thread=1 and character n-grams: word-only training on a corpus this small gives NaN here (see test_langid)
    model = fasttext.train_supervised(str(tmp_path / "train.txt"), epoch=10, lr=0.1, dim=16, minn=2, maxn=4,
                                      minCount=1, thread=1, seed=1, verbose=0)
    model.save_model(str(tmp_path / "topics.bin"))
    texts = ["import the module and return a class", "stir the onions,\nadd salt and simmer", "zzz"]
    got = labels({"text": texts}, classifier=str(tmp_path / "topics.bin"))
    assert got[:2] == ["code", "cooking"]
    assert labels({"text": texts}, classifier=str(tmp_path / "topics.bin"), threshold=1.0) == ["other"] * 3


@pytest.mark.parametrize("stage, message", [
    ({"default": "x"}, "exactly one of rules, rules_file, column, classifier"),
    ({"column": "source", "classifier": "m.bin"}, "exactly one of"),
    ({"rules": [{"domain": "a.com", "suffix": ".com", "label": "a"}]}, "exactly one of domain, suffix, regex"),
    ({"rules": [{"domain": "a.com", "label": "a/b"}]}, "label"),
    ({"rules": [{"regex": "(", "label": "a"}]}, "regex"),
    ({"rules_file": "r.txt", "map": {"a": "b"}}, "map goes with column"),
])
def test_config_errors_name_the_stage(stage, message):
    with pytest.raises(ConfigError, match=r"stages\[0\] \(domain\)") as error:
        pipeline_config.parse({"input": {"paths": ["x"], "dataset": "t"}, "output": "o",
                               "stages": [{"name": "domain", **stage}]})
    assert message in str(error.value)


def test_requires_what_its_source_reads():
    assert Domain(DomainParams(rules=[{"domain": "a.com", "label": "a"}])).requires() == ("url",)
    assert Domain(DomainParams(column="topic")).requires() == ("topic",)
    assert Domain(DomainParams(classifier="m.bin")).requires() == ("text",)
