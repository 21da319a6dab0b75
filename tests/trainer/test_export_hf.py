"""`export-hf`: a trained run as a Hugging Face Llama checkpoint that transformers loads offline, with the same logits."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import EOS, VOCAB, counting_docs, write_corpus
from curate.trainer import config, export_hf, train

pytestmark = pytest.mark.slow  # trains a model, exports it in a child, loads it in transformers
TOLERANCE = 1e-4  # float32 on both sides; the two implementations order a few sums differently


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers

    tmp = tmp_path_factory.mktemp("export")
    manifest_path = write_corpus(tmp / "data", {"web": counting_docs(np.random.default_rng(3), 120, 1, VOCAB)},
                                 {"web": 1.0})
    # a real tokenizer file where the manifest says it is: one token per id, id 0 the EOS
    tok = Tokenizer(models.WordLevel({f"t{i}": i for i in range(VOCAB)}, unk_token=f"t{EOS}"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    (tmp / "data" / "tokenizer").mkdir()
    tok.save(str(tmp / "data" / "tokenizer" / "tokenizer.json"))
    manifest = json.loads(manifest_path.read_text())
    manifest["tokenizer"]["sha256"] = hashlib.sha256((tmp / "data" / "tokenizer" / "tokenizer.json").read_bytes()
                                                     ).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    cfg = config.from_dict({
        "output": str(tmp / "run"), "data": {"manifest": str(manifest_path), "seq_len": 32},
        "model": {"preset": "tiny"}, "parallel": {"dtype": "float32"},
        "train": {"steps": 3, "global_batch": 8, "micro_batch": 8, "lr": 1e-2, "warmup_steps": 1}})
    train.run(cfg)
    done = subprocess.run([sys.executable, "-m", "curate.pipeline.commands.cli", "train", "export-hf", str(tmp / "run"),
                           str(tmp / "hf")], capture_output=True, text=True)
    assert done.returncode == 0 and "(step 3)" in done.stdout, done.stderr
    return tmp


def test_transformers_loads_it_offline_and_its_logits_match(exported, monkeypatch):
    from transformers import LlamaForCausalLM

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hf = LlamaForCausalLM.from_pretrained(exported / "hf", dtype=torch.float32).eval()
    ours, _, step = export_hf.load_model(exported / "run")
    assert step == 3
    assert hf.config.num_hidden_layers == 2 and hf.config.hidden_size == 64 and hf.config.vocab_size == 256
    tokens = torch.randint(0, VOCAB, (2, 32), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, got = ours(tokens), hf(tokens).logits
    diff = (expected - got).abs().max().item()
    print(f"max abs logit difference, trainer vs LlamaForCausalLM: {diff:.2e} (tolerance {TOLERANCE:g})")
    assert diff < TOLERANCE
    assert expected.abs().max() > 1.0  # trained logits, not a near-zero output that would match anything
    # and the weights are the trained ones: an untouched (re-initialised) model disagrees
    assert (ours(tokens) - type(ours)(ours.args)(tokens)).abs().max() > 100 * TOLERANCE


def test_the_tokenizer_travels_with_it(exported, monkeypatch):
    from transformers import AutoTokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tok = AutoTokenizer.from_pretrained(exported / "hf")
    assert tok.eos_token == f"t{EOS}" and tok.eos_token_id == EOS
    assert tok("t5 t6 t7", add_special_tokens=False)["input_ids"] == [5, 6, 7]


def test_the_weights_are_shared_like_the_files_beside_them(exported):
    """safetensors writes its file owner-only (0600); the export gives it the mode of its neighbours (0644 here)."""
    import stat

    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (exported / "hf").iterdir()}
    assert modes["model.safetensors"] == modes["config.json"] == modes["tokenizer.json"], modes


def test_a_run_without_a_checkpoint_is_refused(exported, tmp_path):
    with pytest.raises(export_hf.ExportError, match="not a training run"):
        export_hf.export(tmp_path, tmp_path / "hf")
    for name in ("model.json", "config.yaml"):
        (tmp_path / name).write_bytes((exported / "run" / name).read_bytes())
    with pytest.raises(export_hf.ExportError, match="no checkpoint"):
        export_hf.export(tmp_path, tmp_path / "hf")
