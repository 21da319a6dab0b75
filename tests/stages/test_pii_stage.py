"""pii stage: typed placeholders in `text`, one `pii_<kind>` count column per chosen kind, configurable replacements,
regions and IP ranges; bad parameters are config errors naming the key."""
from __future__ import annotations

import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.pipeline import config as pipeline_config
from curate.pipeline.errors import ConfigError
from curate.pipeline.output import Output
from curate.pipeline.sections import RunView
from curate.stages.pii import Pii, PiiParams

TEXTS = ["Mail ann@example.com or bob@example.org, call +1 415-555-2671.",
         "Host 10.1.2.3 and 8.8.4.4; IBAN GB82 WEST 1234 5698 7654 32; SSN 123-45-6789.",
         None, ""]


def process(**params) -> pa.RecordBatch:
    stage = Pii(PiiParams(**params))
    stage.setup()
    return stage.process(pa.RecordBatch.from_pydict({"id": ["a", "b", "c", "d"], "text": TEXTS}))


def test_placeholders_and_counts_per_kind():
    out = process()
    assert out.column("text").to_pylist() == [
        "Mail <EMAIL> or <EMAIL>, call <PHONE>.", "Host 10.1.2.3 and <IP>; IBAN <IBAN>; SSN <SSN>.", None, ""]
    assert out.schema.names == ["id", "text", "pii_email", "pii_iban", "pii_card", "pii_ssn", "pii_ip", "pii_phone",
                                "reject_reason"]
    assert out.column("pii_email").to_pylist() == [2, 0, 0, 0]
    assert [out.column(f"pii_{k}").to_pylist()[1] for k in ("iban", "ssn", "ip", "phone")] == [1, 1, 1, 0]
    assert out.column("reject_reason").null_count == 4  # redaction never rejects


def test_chosen_kinds_custom_placeholders_and_private_ips():
    out = process(kinds=["ip", "email"], placeholders={"email": "[email removed]"}, ip_private=True)
    assert out.column("text").to_pylist()[:2] == [
        "Mail [email removed] or [email removed], call +1 415-555-2671.",
        "Host <IP> and <IP>; IBAN GB82 WEST 1234 5698 7654 32; SSN 123-45-6789."]
    assert [n for n in out.schema.names if n.startswith("pii_")] == ["pii_email", "pii_ip"]


def test_the_run_report_sums_the_counts_pii_adds(tmp_path):
    """pii names the report's counts part (`Report`): the sums of the integer columns it adds, over the kept
    documents, whichever kinds it was set to find."""
    stage = Pii(PiiParams(kinds=["ip", "email"]), "redact")
    (tmp_path / "documents").mkdir()
    pq.write_table(pa.table({"pii_email": pa.array([2, 0, None, 1], pa.int32()), "pii_ip": pa.array([0, 0, 0, 3],
                   pa.int32())}), tmp_path / "documents" / "part-0.parquet")
    (tmp_path / "manifest.json").write_text(json.dumps({"documents": ["documents/part-0.parquet"]}))
    (tmp_path / "stats.json").write_text("{}")
    section = stage.report.section(RunView.load(Output(str(tmp_path))), [stage])
    assert (section.anchor, section.title) == ("totals", "Counts") and "Over the 4 kept documents." in section.body[0]
    rows = re.findall(r"<tr><td[^>]*>([^<]+)</td><td[^>]*>([^<]+)</td><td[^>]*>([^<]+)</td>", section.body[1])
    assert rows == [("redact: pii_email", "3", "2"), ("redact: pii_ip", "3", "1")]


@pytest.mark.parametrize("stage, message", [
    ({"kinds": ["passport"]}, r"kinds\[0\]"),
    ({"kinds": []}, "kinds"),
    ({"phone_regions": ["XX"]}, "unknown phone region 'XX'"),
    ({"placeholders": {"name": "<NAME>"}}, "placeholders"),
])
def test_bad_parameters_are_config_errors(stage, message):
    with pytest.raises(ConfigError, match=message):
        pipeline_config.parse({"input": {"paths": ["x"], "dataset": "t"}, "output": "o",
                               "stages": [{"name": "pii", **stage}]})
