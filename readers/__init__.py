"""Readers: input files to byte-capped batches of documents in the core schema, each reporting to its file's ledger.

One module per kind of file (WARC and WET, JSONL, Parquet); each registers its reader for the formats it reads
(`@reads("warc", "wet")`), and the framework finds it by the format of an input file
(`curate.pipeline.inputs.read`)."""
