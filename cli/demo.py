"""`curate demo`: the demo crawl (:mod:`curate.testing`), a tokenizer trained on its languages, and
`demo.yaml` run over them."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from curate.pipeline import config as pipeline_config
from curate.pipeline import registry
from curate.pipeline.stage import map_paths
from curate.pipeline.tokenizer import train_bpe
from curate.testing import demo_texts, generate_crawl

def run_demo(workdir: Path, progress, console):
    from curate.pipeline.run import run

    crawl = workdir / "crawl"
    paths = generate_crawl(crawl)
    tokenizer = workdir / "tokenizer.json"
    train_bpe(demo_texts(), vocab_size=2048).save(str(tokenizer))
    console.print(f"sample crawl: {len(paths)} WARC files in {crawl}; tokenizer: {tokenizer}")
    example = Path(str(resources.files("curate.cli").joinpath("demo.yaml")))
    raw = yaml.safe_load(example.read_text(encoding="utf-8"))
    raw["input"]["paths"] = [str(crawl)]
    raw["output"] = str(workdir / "output")
    # the files its stages read (`Stage.files`: the tokenizer) are the demo's own, in workdir under the same names
    raw["stages"] = [map_paths(entry, registry.get(entry["name"]).files, lambda _, path: str(workdir / Path(path).name))
                     for entry in raw["stages"]]
    return run(pipeline_config.parse(raw), overwrite=True, progress=progress)
