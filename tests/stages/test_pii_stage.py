"""pii stage: typed placeholders in `text`, one `pii_<kind>` count column per chosen kind, configurable replacements,
regions and IP ranges; bad parameters are config errors naming the key."""
from __future__ import annotations

import pyarrow as pa
import pytest

from curate.pipeline import config as pipeline_config
from curate.pipeline.errors import ConfigError
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
    assert Pii(PiiParams(kinds=["ip", "email"])).totals() == ("pii_email", "pii_ip")


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
