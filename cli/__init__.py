"""The `curate` commands: each module is one command (or its helpers), built on the framework in `curate.pipeline`."""
