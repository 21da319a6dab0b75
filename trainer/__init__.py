"""curate.trainer: a Megatron-style PyTorch trainer that reads curate's token shards through manifest.json.

config (YAML -> pydantic models, presets) · data (shards -> indices -> blended batches) · model (Llama-style decoder) ·
parallel (FSDP2, tensor/sequence parallel, checkpointing, compile) · train (the loop around train_step) ·
checkpoint (DCP, read without running pickled code) · evaluate (validation loss, bits per byte, multiple choice) ·
flops (PaLM and causal FLOPs, MFU peaks) · launch (`curate train`, torchrun, multi-node) · export_hf
(`curate train export-hf`).
"""
