"""Model FLOPs per token (PaLM, appendix B) and the accelerator peaks that MFU is measured against.

MFU = tokens/s x flops_per_token / (peak x devices). flops_per_token = 6 N + 12 L H Q T: N the parameters that take part
in matrix products (the output head counts, the embedding lookup does not), L layers, H heads of width Q (H Q = model
dim), T the sequence length. Recomputation for activation checkpointing is not counted (that is the point of *model*
FLOPs utilisation). The attention term counts the full T x T score matrix; the causal count (`causal=True`) halves it,
since a causal mask leaves half of it, and is logged beside it as `mfu_causal`.
"""

from __future__ import annotations

# Dense bf16 tensor-core peaks (no sparsity), FLOP/s, from the vendors' datasheets; matched on the device name.
PEAK_BF16 = [
    ("H200", 989e12),
    ("H100", 989e12),  # SXM; the PCIe part is 756e12 and names itself "H100 PCIe"
    ("GH200", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("A10", 125e12),
]


def peak_flops(device_name: str) -> float | None:
    """Dense bf16 peak for a CUDA device name, None when unknown (e.g. CPU)."""
    if "H100 PCIe" in device_name:
        return 756e12
    for key, peak in PEAK_BF16:
        if key in device_name:
            return peak
    return None


def flops_per_token(matmul_params: int, n_layers: int, dim: int, seq_len: int, causal: bool = False) -> float:
    """6 N + 12 L H Q T (PaLM); with `causal`, 6 N + 6 L H Q T: the causal mask leaves half of the attention scores
    to compute, as Megatron-LM's current count has it."""
    attention = (6.0 if causal else 12.0) * n_layers * dim * seq_len
    return 6.0 * matmul_params + attention
