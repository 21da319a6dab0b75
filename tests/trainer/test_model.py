"""The decoder: causal, grouped-query attention, and the PaLM FLOPs count used for MFU."""

import torch

from curate.trainer.flops import flops_per_token, peak_flops
from curate.trainer.model import ModelArgs, Transformer, matmul_params


def _model(**kw):
    torch.manual_seed(0)
    args = dict(dim=32, n_layers=2, n_heads=4, n_kv_heads=4, ffn_dim=64, vocab_size=64, max_seq_len=16)
    args.update(kw)
    return Transformer(ModelArgs(**args))


def test_future_tokens_do_not_change_past_logits():
    model = _model()
    x = torch.randint(0, 64, (2, 16))
    y = x.clone()
    y[:, 10:] = (y[:, 10:] + 7) % 64
    a, b = model(x), model(y)
    assert torch.allclose(a[:, :10], b[:, :10], atol=1e-6)
    assert not torch.allclose(a[:, 10:], b[:, 10:], atol=1e-3)


def test_grouped_query_attention_shares_kv_heads():
    model = _model(n_kv_heads=2)
    assert model.layers[0].attention.wk.weight.shape == (16, 32)  # 2 kv heads x head dim 8
    assert model(torch.randint(0, 64, (1, 16))).shape == (1, 16, 64)


def test_palm_flops_count():
    model = _model()
    per_layer = 4 * 32 * 32 + 3 * 32 * 64
    assert matmul_params(model) == 2 * per_layer + 2 * 2 * 32 + 32 + 64 * 32  # blocks + block norms + final norm + head
    # 6 N + 12 L (H Q) T
    assert flops_per_token(1000, 2, 32, 16) == 6 * 1000 + 12 * 2 * 32 * 16
    # causal: the attention term halved (6 N + 6 L (H Q) T)
    assert flops_per_token(1000, 2, 32, 16, causal=True) == 6 * 1000 + 6 * 2 * 32 * 16
    assert peak_flops("NVIDIA H100 80GB HBM3") == 989e12 and peak_flops("NVIDIA H200") == 989e12
    assert peak_flops("NVIDIA H100 PCIe") == 756e12 and peak_flops("cpu") is None
