"""The engines: how a run's passes and global stages' plans run on Apache Spark (`curate.engines.spark`) and Apache
Beam (`curate.engines.beam`). Each is found by name through the `curate.engines` entry points
(`curate.pipeline.engine`); nothing in the framework imports one."""
