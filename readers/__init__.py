"""Readers: input files (or ranges of them) to byte-capped batches of documents in the core schema, each reporting to
its task's ledger; and the splitters that cut a large file into ranges.

One module per kind of file (WARC and WET, JSONL, Parquet); each registers its reader for the formats it reads
(`@reads("warc", "wet")`) and its splitter (`@splits("warc", "wet")`), and the framework finds them by the format of
an input file (`curate.pipeline.inputs.read`, `curate.pipeline.inputs.tasks`)."""
