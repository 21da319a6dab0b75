"""curate.trainer: a Megatron-style PyTorch trainer that reads curate's token shards through manifest.json.

config (YAML -> dataclasses, presets) · data (shards -> indices -> blended batches) · model (Llama-style decoder) ·
parallel (FSDP2, tensor/sequence parallel, checkpointing, compile) · train (the loop) · checkpoint (DCP) ·
flops (PaLM and causal FLOPs, MFU peaks) · launch (`curate train`, torchrun, multi-node) · export_hf
(`curate train export-hf`).
"""
