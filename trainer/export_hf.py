"""`curate train export-hf RUN_DIR OUT`: a run's newest checkpoint as a Hugging Face Llama model, with its tokenizer.

OUT gets `config.json` (LlamaConfig), `model.safetensors` (float32, the trained master weights) and the tokenizer
(`tokenizer.json` + `tokenizer_config.json`), so `transformers.LlamaForCausalLM.from_pretrained(OUT)` and
`AutoTokenizer.from_pretrained(OUT)` load it offline.

RoPE layout: Meta's original Llama code rotates interleaved pairs (x0, x1), (x2, x3)..., and Hugging Face's converter
permutes the rows of wq and wk into its own layout, which rotates the two halves of each head ((x_i, x_{i + d/2}),
`rotate_half`). This trainer's `apply_rope` already rotates halves, so the rows are copied as they are; the logits test
(tests/trainer/test_export_hf.py) checks the two models agree. The vocabulary is the trainer's padded one (a multiple of
128); ids past the tokenizer's never occur in its output.
"""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import torch
import yaml

from . import checkpoint
from .model import Transformer


class ExportError(ValueError):
    """The run directory cannot be exported (no checkpoint, no tokenizer...); the message says which."""


# trainer name -> Hugging Face Llama name; `{}` is the layer number
NAMES = {
    "tok_embeddings.weight": "model.embed_tokens.weight",
    "norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
    "layers.{}.attention_norm.weight": "model.layers.{}.input_layernorm.weight",
    "layers.{}.attention.wq.weight": "model.layers.{}.self_attn.q_proj.weight",
    "layers.{}.attention.wk.weight": "model.layers.{}.self_attn.k_proj.weight",
    "layers.{}.attention.wv.weight": "model.layers.{}.self_attn.v_proj.weight",
    "layers.{}.attention.wo.weight": "model.layers.{}.self_attn.o_proj.weight",
    "layers.{}.ffn_norm.weight": "model.layers.{}.post_attention_layernorm.weight",
    "layers.{}.feed_forward.w1.weight": "model.layers.{}.mlp.gate_proj.weight",
    "layers.{}.feed_forward.w3.weight": "model.layers.{}.mlp.up_proj.weight",
    "layers.{}.feed_forward.w2.weight": "model.layers.{}.mlp.down_proj.weight",
}


def load_model(run_dir: Path) -> tuple[Transformer, dict, int]:
    """The trainer's model with the newest checkpoint's weights (one process, CPU, float32); its config; the step.
    The checkpoint is read as `checkpoint.read` reads it: no pickled code runs (docs/TRAINER.md, "What is trusted")."""
    try:
        model, step = checkpoint.load_model(run_dir)
    except checkpoint.CheckpointError as e:
        raise ExportError(str(e)) from None
    try:
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    except OSError as e:
        raise ExportError(f"{run_dir}: not a training run ({e.filename} is missing)") from None
    return model, cfg, step


def hf_state_dict(model: Transformer) -> dict[str, torch.Tensor]:
    out = {}
    for name, tensor in model.state_dict().items():
        parts = name.split(".")
        if parts[0] == "layers":
            key = NAMES[".".join(["layers", "{}", *parts[2:]])].format(parts[1])
        else:
            key = NAMES[name]
        out[key] = tensor.detach().contiguous()
    return out


def _tokenizer_file(manifest_path: Path) -> tuple[Path, dict]:
    try:
        manifest = json.loads(manifest_path.read_text())
    except OSError as e:
        raise ExportError(f"{manifest_path}: cannot read the run's manifest ({e.strerror})") from None
    tok = manifest["tokenizer"]
    path = manifest_path.parent / tok["file"]
    if not path.exists():
        raise ExportError(f"{path}: the manifest's tokenizer file is missing")
    if hashlib.sha256(path.read_bytes()).hexdigest() != tok["sha256"]:
        raise ExportError(f"{path}: sha256 differs from the manifest's")
    return path, tok


def export(run_dir: str | Path, out: str | Path) -> int:
    """Write the Hugging Face checkpoint; returns the step it holds."""
    run_dir, out = Path(run_dir), Path(out)
    model, cfg, step = load_model(run_dir)  # first: a run that cannot be exported is told before transformers loads
    tok_path, tok = _tokenizer_file(Path(cfg["data"]["manifest"]))

    from safetensors.torch import save_file
    from transformers import LlamaConfig, PreTrainedTokenizerFast

    a = model.args
    hf_config = LlamaConfig(
        vocab_size=a.vocab_size, hidden_size=a.dim, intermediate_size=a.ffn_dim, num_hidden_layers=a.n_layers,
        num_attention_heads=a.n_heads, num_key_value_heads=a.n_kv_heads, head_dim=a.head_dim,
        max_position_embeddings=a.max_seq_len, rms_norm_eps=a.norm_eps, hidden_act="silu",
        rope_parameters={"rope_type": "default", "rope_theta": a.rope_theta}, tie_word_embeddings=False,
        attention_bias=False, mlp_bias=False, bos_token_id=None, eos_token_id=int(tok["eos_id"]), dtype="float32",
        architectures=["LlamaForCausalLM"])
    out.mkdir(parents=True, exist_ok=True)
    hf_config.save_pretrained(out)
    weights = out / "model.safetensors"
    save_file(hf_state_dict(model), str(weights), metadata={"format": "pt"})
    # safetensors creates its file owner-only (0600): the weights get the mode of the config written beside them
    weights.chmod(stat.S_IMODE((out / "config.json").stat().st_mode))
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(tok_path), model_max_length=a.max_seq_len)
    tokenizer.eos_token = tokenizer.convert_ids_to_tokens(int(tok["eos_id"]))
    tokenizer.save_pretrained(out)
    return step
