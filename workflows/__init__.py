"""Workflows: runs composed of runs (`curate ablate`: curate runs per arm, a shared tokenizer, training and evaluation),
built on the framework's `run` and the bundled trainer."""
