"""Bad rows are rejected, not fatal (issue #25, item 6): a row a global stage cannot key (an unparseable URL for
`exact_dedup` with `on: url`) is rejected `<stage>:error:<Exception>` like a row a map stage cannot process, on both
engines; a run that bad data stops (`on_error: fail`) exits 1, and 2 stays for config and usage errors."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.pipeline import config as pipeline_config
from curate.pipeline.commands.cli import main
from curate.pipeline.output import MANIFEST
from curate.pipeline.run import run
from curate.stages.dedup.exact import normalise_url

URLS = ["https://x.org/a", "https://X.org/a/", "http://example.com:99999/p", "http://example.com:99999/p#part",
        "http://[::1/broken", "https://y.org/b"]


def crawl(folder: Path, urls: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.jsonl").write_text("".join(json.dumps({"text": f"page {i}", "url": u}) + "\n"
                                            for i, u in enumerate(urls)))
    return folder


def test_a_port_out_of_range_is_part_of_the_key():
    """urllib's `.port` raises for a port above 65535; the key keeps the port as written instead."""
    assert normalise_url("http://Example.com:99999/p/") == "//example.com:99999/p"
    assert normalise_url("http://example.com:80/p") == normalise_url("http://example.com/p") == "//example.com/p"
    assert normalise_url("https://example.com:0443/p") == "//example.com/p"


@pytest.mark.parametrize("engine", ["spark", "beam"])
def test_rows_exact_dedup_cannot_key_are_rejected(spark, tmp_path, engine):
    """Before: `ValueError: Port out of range 0-65535` ended the whole run (exit 2, after the output was made)."""
    config = pipeline_config.parse({"input": {"paths": [str(crawl(tmp_path / "in", URLS))], "dataset": "t"},
                                    "output": str(tmp_path / "out"), "engine": {"name": engine},
                                    "stages": [{"name": "exact_dedup", "on": "url"}]})
    stats = run(config).stats
    assert stats["input"] == 6 and stats["kept"] == 3
    assert stats["rejected"] == {"exact_dedup:duplicate": 2, "exact_dedup:error:ValueError": 1}
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    rejects = pa.concat_tables([pq.read_table(tmp_path / "out" / p) for p in manifest["rejects"]])
    reasons = dict(zip(rejects.column("id").to_pylist(), rejects.column("reject_reason").to_pylist()))
    assert reasons == {"t/a.jsonl:1": "exact_dedup:duplicate", "t/a.jsonl:3": "exact_dedup:duplicate",
                       "t/a.jsonl:4": "exact_dedup:error:ValueError"}
    funnel = {s["name"]: (s["in"], s["out"]) for s in stats["stages"]}
    assert funnel["exact_dedup"] == (6, 3)  # the row it could not key counts as one it took in and rejected


def curate(capsys, *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    return done.value.code, capsys.readouterr().err


@pytest.mark.beam
def test_bad_data_that_stops_a_run_exits_1(capsys, tmp_path):
    path = tmp_path / "pipeline.yaml"
    body = {"input": str(crawl(tmp_path / "in", URLS)), "output": str(tmp_path / "out"), "engine": {"name": "beam"},
            "stages": [{"name": "exact_dedup", "on": "url", "on_error": "fail"}]}
    path.write_text(json.dumps(body))
    code, err = curate(capsys, "run", str(path))
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Invalid IPv6 URL" in err, err
    path.write_text(json.dumps({**body, "stages": [{"name": "exact_dedup", "on": "url", "on_error": "never"}]}))
    code, err = curate(capsys, "run", str(path))
    assert code == 2 and "on_error" in err  # a config error stays 2


def test_any_global_stage_rejects_the_row_it_cannot_key(spark, tmp_path):
    """Not only URLs: `minhash_dedup` ranking by a column (`keep: highest:score`) cannot rank a score of "n/a" (Arrow
    cannot cast it); that row is rejected with the reason, its near-duplicates are decided as ever."""
    text = " ".join(f"word{i}" for i in range(60))
    rows = [{"text": text, "score": "0.2"}, {"text": text + " extra", "score": "0.9"}, {"text": text, "score": "n/a"},
            {"text": " ".join(f"other{i}" for i in range(60)), "score": "0.5"}]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    config = pipeline_config.parse({"input": {"paths": [str(tmp_path / "in")], "dataset": "t", "fields": ["score"]},
                                    "output": str(tmp_path / "out"),
                                    "stages": [{"name": "minhash_dedup", "keep": "highest:score", "salts": 1}]})
    stats = run(config).stats
    assert stats["rejected"] == {"minhash_dedup:duplicate": 1, "minhash_dedup:error:ArrowInvalid": 1}
    assert stats["kept"] == 2
