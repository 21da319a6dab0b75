"""The Stage API as the framework runs it: prefixed reasons, only kept rows, errors captured per document."""
from __future__ import annotations

import pyarrow as pa
import pytest

from curate.pipeline.chain import BoundStage, StageCounts, split
from curate.pipeline.stage import Params, Stage, emit


class ShoutParams(Params):
    fail_on: str = "boom"


class Shout(Stage):
    """Upper-cases text; rejects empty text; raises on one word (a stand-in for a library that breaks)."""

    name = "shout"
    Params = ShoutParams

    def adds(self):
        return {"shout_len": pa.int32()}

    def modifies(self):
        return ("text",)

    def process(self, batch):
        texts = batch.column("text").to_pylist()
        if any(self.params.fail_on in t for t in texts):
            raise ValueError("cannot shout that")
        reasons = [None if t else "empty" for t in texts]
        return emit(batch, reasons, text=[t.upper() for t in texts], shout_len=[len(t) for t in texts])


def batch_of(texts):
    return pa.RecordBatch.from_pydict({"id": [f"d{i}" for i in range(len(texts))], "text": texts})


def test_reasons_are_prefixed_and_columns_typed():
    bound, counts = BoundStage(Shout(ShoutParams()), "reject"), StageCounts("shout")
    out = bound.run(batch_of(["a", "", "ccc"]), counts)
    assert out.column("reject_reason").to_pylist() == [None, "shout:empty", None]
    assert out.column("text").to_pylist() == ["A", "", "CCC"]
    assert out.schema.field("shout_len").type == pa.int32()
    assert (counts.rows_in, counts.rows_out) == (3, 2)
    kept, rejected = split(out)
    assert kept.column("id").to_pylist() == ["d0", "d2"] and "reject_reason" not in kept.schema.names
    assert rejected.column("id").to_pylist() == ["d1"]


def test_a_batch_all_kept_or_all_rejected_is_split_without_copying_its_rows():
    """Pages are large: a stage that keeps (or rejects) a whole batch must not cost a copy of every page."""
    pages = pa.array([b"<p>" + b"x" * 100_000, b"<p>" + b"y" * 100_000], pa.binary())

    def data_address(batch):
        return batch.column("html").buffers()[2].address

    for reasons, kept_rows, rejected_rows in [([None, None], 2, 0), (["a", "b"], 0, 2)]:
        batch = pa.RecordBatch.from_pydict({"html": pages, "reject_reason": pa.array(reasons, pa.string())})
        kept, rejected = split(batch)
        assert (kept.num_rows, rejected.num_rows) == (kept_rows, rejected_rows)
        assert kept.schema.names == ["html"] and rejected.schema.names == ["html", "reject_reason"]
        whole = kept if kept_rows else rejected
        assert whole.column("html").to_pylist() == pages.to_pylist()
        assert data_address(whole) == data_address(batch)
    kept, rejected = split(pa.RecordBatch.from_pydict({"html": pages, "reject_reason": pa.array([None, "a"])}))
    assert kept.column("html").to_pylist() == pages.to_pylist()[:1]
    assert rejected.column("reject_reason").to_pylist() == ["a"]


def test_stage_id_is_the_prefix():
    out = BoundStage(Shout(ShoutParams(), "shout_twice"), "reject").run(batch_of([""]), StageCounts("x"))
    assert out.column("reject_reason").to_pylist() == ["shout_twice:empty"]


def test_a_raising_row_is_rejected_and_the_others_go_on():
    texts = ["fine", "this goes boom", "ok", "", "boom again", "last"]
    out = BoundStage(Shout(ShoutParams()), "reject").run(batch_of(texts), StageCounts("shout"))
    assert out.column("id").to_pylist() == [f"d{i}" for i in range(6)]  # order kept
    assert out.column("reject_reason").to_pylist() == [
        None, "shout:error:ValueError", None, "shout:empty", "shout:error:ValueError", None]
    assert out.column("text").to_pylist()[0] == "FINE"
    assert out.column("shout_len").to_pylist()[1] is None


def test_on_error_fail_stops():
    with pytest.raises(ValueError):
        BoundStage(Shout(ShoutParams()), "fail").run(batch_of(["boom"]), StageCounts("shout"))


def test_a_stage_that_loses_rows_is_a_bug_not_a_reject():
    class Lossy(Shout):
        def process(self, batch):
            return super().process(batch).slice(1)

    bound = BoundStage(Lossy(ShoutParams()), "fail")
    with pytest.raises(RuntimeError, match="returned 1 rows for 2"):
        bound.run(batch_of(["a", "b"]), StageCounts("lossy"))


def test_each_built_in_stage_has_a_file_of_its_own_with_its_params_written_out_there():
    from curate.pipeline import registry

    stages = {name: cls for name, cls in registry.stages().items() if cls.__module__.startswith("curate.stages.")}
    modules = [cls.__module__ for cls in stages.values()]
    assert sorted(m for m in set(modules) if modules.count(m) > 1) == []
    for name, cls in stages.items():
        assert (cls.Params.__module__, cls.Params.__qualname__) == (cls.__module__, f"{cls.__name__}Params"), name
