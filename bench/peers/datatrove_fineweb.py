"""The peer of bench/end_to_end.py: datatrove's FineWeb English recipe on a folder of WARC files.

    python bench/peers/datatrove_fineweb.py --input WARCS --output OUT --workers 2 --datatrove DIR [--extractor resiliparse]

WarcReader → Trafilatura(favour_precision=True) → LanguageFilter(en, 0.65) → GopherRepetitionFilter →
GopherQualityFilter → C4QualityFilter(filter_no_terminal_punct=False) → FineWebQualityFilter → JsonlWriter, with an
exclusion writer on every filter (under `OUT/removed/<step>`): the
steps and settings of datatrove's `examples/fineweb.py` (its URL filter aside), on LocalPipelineExecutor with one task
per input file and `--workers` processes. `--datatrove` is a folder datatrove is installed in (`pip install --target
DIR datatrove==0.10.1 spacy==3.8.18 faust-cchardet python-magic fasteners orjson`); it is appended to `sys.path`, so the
packages this interpreter already has — trafilatura, fastText, resiliparse — are the ones both pipelines use.
The language-ID model is the lid.176 file curate ships (datatrove would download lid.176.bin).
`--extractor resiliparse` swaps the extractor for resiliparse with curate's settings (datatrove has no resiliparse
step); everything else stays.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def resiliparse_extractor():
    from datatrove.pipeline.extractors.base import BaseExtractor

    class Resiliparse(BaseExtractor):
        name = "⛏ Resiliparse"

        def __init__(self, timeout: float = 1):
            super().__init__(timeout)

        def extract(self, text: str) -> str:
            from resiliparse.extract.html2text import extract_plain_text
            from resiliparse.parse.html import HTMLTree

            return extract_plain_text(HTMLTree.parse(text), main_content=True, alt_texts=False, links=False,
                                      list_bullets=True, form_fields=False, noscript=False)

    return Resiliparse()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--datatrove", required=True, help="folder datatrove is installed in")
    parser.add_argument("--extractor", choices=["trafilatura", "resiliparse"], default="trafilatura")
    args = parser.parse_args()
    sys.path.append(args.datatrove)
    # datatrove's pool starts from a fork server, a fresh interpreter: it finds datatrove through the environment
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), args.datatrove]))

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter, LanguageFilter)
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import JsonlWriter

    from curate.stages.langid import bundled_model_path

    def removed(step: str) -> JsonlWriter:
        return JsonlWriter(f"{args.output}/removed/{step}")

    language = LanguageFilter(languages=["en"], language_threshold=0.65, exclusion_writer=removed("1_lang"))
    language.model.MODEL_URL = str(bundled_model_path())  # a local path (on the instance, which is what the
    # workers receive): nothing is downloaded
    tasks = len(list(Path(args.input).glob("*.warc.gz")))
    extractor = Trafilatura(favour_precision=True) if args.extractor == "trafilatura" else resiliparse_extractor()
    LocalPipelineExecutor(
        pipeline=[
            WarcReader(args.input, glob_pattern="*.warc.gz"),
            extractor,
            language,
            GopherRepetitionFilter(exclusion_writer=removed("2_gopher_rep")),
            GopherQualityFilter(exclusion_writer=removed("3_gopher_qual")),
            C4QualityFilter(filter_no_terminal_punct=False, exclusion_writer=removed("4_c4")),
            FineWebQualityFilter(exclusion_writer=removed("5_fineweb")),
            JsonlWriter(f"{args.output}/output"),
        ],
        tasks=tasks,
        workers=args.workers,
        logging_dir=f"{args.output}/logs",
    ).run()
    done = len(list(Path(args.output, "logs", "completions").glob("*")))
    if done != tasks:  # datatrove logs a failed task and carries on
        print(f"datatrove completed {done} of {tasks} tasks: see {args.output}/logs/logs/", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
