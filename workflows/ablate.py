"""`curate ablate ABLATION.yaml`: train small models on each recipe's data and compare them on the same evaluations.

The steps, each resumable: finished work found in OUTPUT is kept when everything that made it is unchanged, and
done again otherwise (each step records what made it, `*.made_of.json`, and says what changed):
1. **Arms' documents.** A pipeline arm is a curate run (`OUTPUT/arms/<arm>/curated/`) on the ablation's input, or
   on an earlier arm's documents (`after:`); an `output:` arm is an existing curate output, used as it is.
2. **One tokenizer.** `tokenizer.path`, or a byte-level BPE trained on `tokenizer.sample` documents of every arm
   (`OUTPUT/tokenizer.json`), so no arm gets a vocabulary fitted to it alone.
3. **Leak check and tokenization.** Each arm's documents go through a second curate run (`OUTPUT/arms/<arm>/tokens/`):
   the `decontaminate` stage (id `leak`) against every evaluation set, then `tokenize` with the shared tokenizer. A
   training document that shares an n-gram with an evaluation set is rejected as `leak:<set>`, and counted in the
   results. The manifests' tokenizer sha256 must all be the shared tokenizer's.
4. **Runs.** Every (arm, seed) trains with the bundled trainer (`curate.trainer.launch.main`, the `curate train`
   path) on the same number of tokens; an arm with fewer training tokens repeats its data, and the epochs are kept.
   Then the final checkpoint is evaluated (`curate.trainer.evaluate`): bits per byte per reference set,
   multiple-choice accuracy per set, and the loss per domain on the arm's own validation documents. A run is done when
   its `result.json` exists and was made of the same training settings, data and evaluation sets; an interrupted run
   of the same settings resumes from its newest checkpoint. Evaluation sets are read, and an empty one refused, before
   any arm runs.
5. **Results** (`curate.workflows.ablate_results`): table, JSON and HTML page.
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import io
import json
import math
import os
import reprlib
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from curate.pipeline import config as pipeline_config
from curate.workflows.ablate_config import SEARCHED, AblationConfig, ArmConfig, TrainingConfig
from curate.pipeline.errors import CurateError
from curate.pipeline.output import MANIFEST, STATS, Output
from curate.stages.shards import SHARDS

LEAK_STAGE = "leak"


# ------------------------------------------------------------------ what made each step's output


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def made_of_file(output: Path) -> Path:
    """Beside an output (a curate output's folder holds only its own files): `<output>.made_of.json`."""
    return output.with_name(output.name + ".made_of.json")


def recorded(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def record(path: Path, made_of: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(made_of, indent=1))  # in its order: the first difference is the one told
    os.replace(tmp, path)


_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxother = 40, 3, 3, 40


def changed_since(path: Path, made_of: dict) -> str | None:
    """What differs between `made_of` and what was recorded at `path`, in a few words; None when nothing does."""
    earlier = recorded(path)
    if earlier is None:
        return f"what made it is not recorded ({path.name})"
    return difference(earlier, made_of)


def difference(old, new, where: str = "") -> str | None:
    """The first key whose value differs, as `key.path: old -> new`; None when the two are equal."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            found = difference(old.get(key), new.get(key), f"{where}.{key}" if where else str(key))
            if found:
                return found
        return None
    return None if old == new else f"{where}: {_SHORT.repr(old)} -> {_SHORT.repr(new)}"


def arm_documents(arm: ArmConfig, cfg: AblationConfig, done: dict[str, Path], progress) -> Path:
    """The curate output holding the arm's documents; runs the arm's pipeline first where it has one."""
    if arm.output is not None:
        if not Output(arm.output).exists(MANIFEST):
            raise CurateError(f"arm {arm.name}: output {arm.output!r} is not a finished curate output "
                              f"(no {MANIFEST})")
        return Path(arm.output)
    target = Path(cfg.output) / "arms" / arm.name / "curated"
    extra = {}
    if arm.after is not None:
        source = {"paths": slim_documents(done[arm.after], Path(cfg.output) / "arms" / arm.after / "slim"),
                  "dataset": arm.name, "format": "parquet"}
        extra["after"] = documents_identity(done[arm.after])
    else:
        source = cfg.input.model_dump(mode="json")
    pipeline = pipeline_config.load(arm.pipeline, {"input": source, "output": str(target)})
    shards = [spec.id for spec in pipeline.stages if SHARDS in spec.stage_class.publishes]
    if shards:
        raise CurateError(f"arm {arm.name}: its pipeline writes token shards (stage {shards[0]}); leave `tokenize` "
                          "out: `curate ablate` tokenizes every arm with one shared tokenizer")
    _run_pipeline(pipeline, progress, f"arm {arm.name}", extra)
    return target


def documents_identity(output_dir: Path) -> str:
    """What a curate output's documents are: its manifest names every file, the config, the inputs and when it ran."""
    return _sha256(output_dir / MANIFEST)


def document_files(output_dir: Path) -> list[str]:
    """The kept-document Parquet files of a finished curate output."""
    output = Output(str(output_dir))
    return [output.path(path) for path in output.read_json(MANIFEST)["documents"]]


# What a later run needs of an earlier run's documents. The Parquet reader carries every column, and an output read
# again already has `input_id` and the like: a second pass would carry those twice.
CARRIED = ("text", "url", "domain", "dup_cluster", "repeats")


def slim_documents(output_dir: Path, target: Path) -> list[str]:
    """The output's documents with only the CARRIED columns (written once under `target`, again when the output
    changed since); returns the files."""
    source = {"documents": documents_identity(output_dir)}
    if target.exists() and changed_since(made_of_file(target), source):
        shutil.rmtree(target)
    record(made_of_file(target), source)
    files = []
    for number, path in enumerate(document_files(output_dir)):
        out = target / f"part-{number:05d}.parquet"
        if not out.is_file():
            schema = pq.read_schema(path)
            table = pq.read_table(path, columns=[c for c in CARRIED if c in schema.names])
            target.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(".tmp")
            pq.write_table(table, tmp)
            os.replace(tmp, out)
        files.append(str(out))
    return files


def _run_pipeline(pipeline, progress, label: str, extra: dict) -> None:
    """Run a curate pipeline into its output: resumed (or kept, when finished) when the pipeline, its input files (as
    curate lists them: names and sizes) and `extra` (what else made it: a tokenizer, evaluation sets) are those that
    made it; run again from scratch otherwise."""
    from curate.pipeline.inputs import resolve
    from curate.pipeline.run import run

    made_of = {"pipeline": pipeline.content_hash(), "inputs": [f.listing() for f in resolve(pipeline.input)], **extra}
    target = Path(pipeline.output)
    started = Output(pipeline.output).exists("run.json")
    changed = changed_since(made_of_file(target), made_of) if started else None
    if changed:
        progress(f"{label}: changed since it ran ({changed}): running it again")
    elif started:
        progress(f"{label}: resuming curate run -> {pipeline.output}")
    else:
        progress(f"{label}: curate run -> {pipeline.output}")
    record(made_of_file(target), made_of)
    run(pipeline, resume=started and not changed, overwrite=bool(changed))


def shared_tokenizer(cfg: AblationConfig, documents: dict[str, Path], progress) -> Path:
    """The tokenizer every arm is tokenized with: the given one, or one trained on a sample of each arm."""
    if cfg.tokenizer.path is not None:
        if not Path(cfg.tokenizer.path).is_file():
            raise CurateError(f"tokenizer.path: {cfg.tokenizer.path!r} is not a file")
        return Path(cfg.tokenizer.path)
    path = Path(cfg.output) / "tokenizer.json"
    made_of = {"vocab_size": cfg.tokenizer.vocab_size, "sample": cfg.tokenizer.sample,
               "documents": {arm: documents_identity(output) for arm, output in documents.items()}}
    if path.is_file():
        changed = changed_since(made_of_file(path), made_of)
        if not changed:
            return path
        progress(f"tokenizer: changed since it was trained ({changed}): training it again")
    from itertools import chain

    from curate.pipeline.tokenizer import sample_texts, train_bpe

    progress(f"tokenizer: BPE of {cfg.tokenizer.vocab_size:,} on up to {cfg.tokenizer.sample:,} documents "
             f"of each of {len(documents)} arms")
    texts = chain.from_iterable(sample_texts(str(d), cfg.tokenizer.sample) for d in documents.values())
    tokenizer = train_bpe(texts, cfg.tokenizer.vocab_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tokenizer.save(str(tmp))
    os.replace(tmp, path)
    record(made_of_file(path), made_of)
    return path


# ------------------------------------------------------------------ evaluation sets


def _files(pattern: str, suffixes: tuple[str, ...]) -> list[Path]:
    path = Path(pattern)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.suffix in suffixes and p.is_file())
    else:
        found = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
    return found


def reference_texts(path: str, text_field: str, where: str) -> list[str]:
    """A reference set's documents: a .txt file is one document; .jsonl lines and .parquet rows one each."""
    files = _files(path, (".txt", ".jsonl", ".parquet"))
    if not files:
        raise CurateError(f"{where}: no .txt, .jsonl or .parquet file at {path!r} (path)")
    texts: list[str] = []
    for file in files:
        if file.suffix == ".txt":
            texts.append(file.read_text(encoding="utf-8"))
        elif file.suffix == ".jsonl":
            for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    record = _json_line(line, file, number)
                    if not isinstance(record.get(text_field), str):
                        raise CurateError(f"{file}:{number}: no string field {text_field!r} ({where}: text_field)")
                    texts.append(record[text_field])
        else:
            table = pq.read_table(file)
            if text_field not in table.column_names:
                raise CurateError(f"{file}: no column {text_field!r} ({where}: text_field)")
            texts += [t for t in table.column(text_field).to_pylist() if t]
    return [t for t in texts if t.strip()]


def choice_items(path: str, where: str):
    """Multiple-choice items, one JSON object a line: {"context": str, "choices": [str, ...], "gold": int}."""
    from curate.trainer.evaluate import ChoiceItem

    files = _files(path, (".jsonl",))
    if not files:
        raise CurateError(f"{where}: no .jsonl file at {path!r} (path)")
    items = []
    for file in files:
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            record = _json_line(line, file, number)
            context, choices, gold = record.get("context"), record.get("choices"), record.get("gold")
            if not (isinstance(context, str) and isinstance(choices, list) and len(choices) >= 2
                    and all(isinstance(c, str) and c for c in choices)
                    and isinstance(gold, int) and not isinstance(gold, bool) and 0 <= gold < len(choices)):
                raise CurateError(f"{file}:{number}: expected {{\"context\": str, \"choices\": [2+ non-empty str], "
                                  f"\"gold\": index into choices}}")
            items.append(ChoiceItem(context, choices, gold))
    return items


def _json_line(line: str, file: Path, number: int) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        raise CurateError(f"{file}:{number}: not JSON") from None
    if not isinstance(record, dict):
        raise CurateError(f"{file}:{number}: expected a JSON object")
    return record


@dataclass
class EvaluationSets:
    """Every evaluation set, read once before any arm runs: reference texts and multiple-choice items by name."""

    references: dict[str, list[str]]
    choices: dict[str, list]
    tokens: int = 0  # with the shared tokenizer, once it exists: what a run's evaluation scores of them

    def texts(self) -> list[str]:
        """What is scored: every reference document, and each choice after its context."""
        return [t for texts in self.references.values() for t in texts] + [
            f"{item.context} {choice}" for items in self.choices.values() for item in items for choice in item.choices]

    def digest(self) -> str:
        """What the sets hold (not where they are): a changed file changes every result scored on it."""
        body = {"references": self.references,
                "choices": {name: [[i.context, i.choices, i.gold] for i in items] for name, items in self.choices.items()}}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def evaluation_sets(cfg: AblationConfig) -> EvaluationSets:
    """Read every evaluation set; a set with nothing to score is refused: bits per byte of no text would read 0.0, a
    perfect score that was never measured."""
    references, choices = {}, {}
    for s in cfg.evaluation.reference:
        where = f"evaluation.reference {s.name}"
        references[s.name] = reference_texts(s.path, s.text_field, where)
        if not references[s.name]:
            raise CurateError(f"{where}: {s.path!r} holds no text to score (path); an empty set has no bits per byte")
    for s in cfg.evaluation.multiple_choice:
        where = f"evaluation.multiple_choice {s.name}"
        choices[s.name] = choice_items(s.path, where)
        if not choices[s.name]:
            raise CurateError(f"{where}: {s.path!r} holds no items to score (path)")
    return EvaluationSets(references, choices)


def leak_benchmarks(cfg: AblationConfig, sets: EvaluationSets) -> list[dict]:
    """Every evaluation set as a JSONL file of texts (`OUTPUT/eval/<set>.jsonl`), for the decontaminate stage."""
    folder = Path(cfg.output) / "eval"
    folder.mkdir(parents=True, exist_ok=True)
    benchmarks = []
    texts_by_set = {**sets.references, **{name: [" ".join([item.context, *item.choices]) for item in items]
                                          for name, items in sets.choices.items()}}
    for name, texts in texts_by_set.items():
        path = folder / f"{name}.jsonl"
        body = "".join(json.dumps({"text": t}) + "\n" for t in texts)
        if not path.is_file() or path.read_text(encoding="utf-8") != body:
            path.write_text(body, encoding="utf-8")
        benchmarks.append({"name": name, "path": str(path), "layout": "jsonl", "fields": ["text"]})
    return benchmarks


def tokenize_arm(arm: str, documents: Path, tokenizer: Path, cfg: AblationConfig, benchmarks: list[dict],
                 sets: EvaluationSets, progress) -> Path:
    """The arm's documents, leak-checked and tokenized with the shared tokenizer: a curate output with shards."""
    target = Path(cfg.output) / "arms" / arm / "tokens"
    stages = []
    if benchmarks:
        stages.append({"name": "decontaminate", "id": LEAK_STAGE, "benchmarks": benchmarks,
                       "n": cfg.evaluation.leak_ngrams})
    stages.append({"name": "tokenize", "tokenizer": str(tokenizer),
                   "validation_fraction": cfg.training.validation_fraction})
    pipeline = pipeline_config.parse({
        # One dataset name for every arm: without a `domain` column it is the domain, and the per-domain
        # validation losses of the arms then line up in one column.
        "input": {"paths": slim_documents(documents, Path(cfg.output) / "arms" / arm / "slim"), "dataset": "documents",
                  "format": "parquet"},
        "output": str(target), "stages": stages})
    # the files the stages name by path: the tokenizer and the evaluation sets, by what they hold
    extra = {"documents": documents_identity(documents), "tokenizer": _sha256(tokenizer),
             "evaluation_sets": sets.digest()}
    _run_pipeline(pipeline, progress, f"arm {arm}: leak check + tokenize", extra)
    return target


def leaks(tokens_output: Path) -> dict[str, int]:
    """Training documents rejected for sharing an n-gram with each evaluation set."""
    rejected = Output(str(tokens_output)).read_json(STATS)["rejected"]
    prefix = f"{LEAK_STAGE}:"
    return {reason[len(prefix):]: n for reason, n in rejected.items() if reason.startswith(prefix)}


def check_tokenizers(tokenized: dict[str, Path], tokenizer: Path) -> str:
    """The shared sha256, after checking every arm's manifest names it."""
    expected = _sha256(tokenizer)
    for arm, output in tokenized.items():
        found = Output(str(output)).read_json(MANIFEST).get("tokenizer", {}).get("sha256")
        if found != expected:
            raise CurateError(f"arm {arm}: its shards were tokenized with {found}, not the shared tokenizer "
                              f"{expected}; delete {output} and run again")
    return expected


# ------------------------------------------------------------------ runs


def trainer_config(t: TrainingConfig, cache_dir: Path, manifest: Path, run_dir: Path, seed: int, max_epochs: float,
                   weights: dict[str, float] | None = None) -> dict:
    """The `curate train` YAML of one run: the training setup `t`, this arm's shards (on `weights` instead of the
    manifest's mixture when given), this seed."""
    dtype = t.dtype if t.dtype != "auto" else ("float32" if t.device == "cpu" else "bf16")
    if t.dtype == "auto" and t.device == "auto":
        import torch

        dtype = "bf16" if torch.cuda.is_available() else "float32"
    data = {"manifest": str(manifest), "seq_len": t.seq_len, "seed": seed, "max_epochs": max_epochs,
            "cache_dir": str(cache_dir)}
    if weights is not None:
        data["weights"] = weights
    return {
        "output": str(run_dir),
        "device": t.device,
        "data": data,
        "model": {"preset": t.preset},
        "parallel": {"nproc": 1, "dtype": dtype},
        "train": {"steps": t.steps, "global_batch": t.global_batch, "micro_batch": t.micro_batch or t.global_batch,
                  "lr": t.lr, "min_lr": t.min_lr, "warmup_steps": min(t.warmup_steps, t.steps), "seed": seed},
        "eval": {"every": t.eval_every, "batches": 2},
        "checkpoint": {"every": 0, "at_end": True, "resume": True, "keep": 1},
        "log": {"every": max(1, t.steps // 50)},
    }


def run_spec(cfg: AblationConfig, t: TrainingConfig, arm: str, output: Path, seed: int, run_dir: Path,
             sets: EvaluationSets, weights: dict[str, float] | None = None) -> dict:
    """One run (an arm and seed, or a proxy of the mixture search): everything a worker process needs, as plain data,
    and what makes its result (`made_of`): what made its model (TRAINED_OF: the training settings but how fast they
    run and which other seeds there are, the trainer's config, the arm's tokenized data, whose manifest names the
    pipeline, inputs, shards and tokenizer), then what it is scored on (the evaluation settings and what the sets
    hold)."""
    manifest = Output(str(output)).read_json(MANIFEST)
    train = manifest["splits"]["train"]
    train_tokens = int(train["tokens"])
    budget = t.steps * t.tokens_per_step
    epochs = budget / train_tokens if train_tokens else math.inf
    # The cap allows exactly the repetition the token budget needs (equal tokens are the point of an ablation): the
    # most any domain needs, at the mixture the run trains on (every repeat counted, as the trainer counts).
    repeated = int(train.get("repeated_tokens", train_tokens))
    needed = budget / repeated if repeated else math.inf
    if weights is not None:  # a domain's training tokens are its natural weight's share of them
        total = sum(weights.values())
        needed = max(budget * w / total / (manifest["domains"][d]["weight"] * repeated)
                     for d, w in weights.items() if w > 0)
    trainer = trainer_config(t, Path(cfg.output) / "cache", output / MANIFEST, run_dir, seed, needed * 1.01 + 1,
                             weights)
    return {
        "arm": arm, "seed": seed, "run_dir": str(run_dir), "tokens": budget, "train_tokens": train_tokens,
        "epochs": epochs, "manifest": str(output / MANIFEST), "leaks": leaks(output), "trainer": trainer,
        "evaluation": cfg.evaluation.model_dump(mode="json"),
        "eval_tokens": sets.tokens + int(manifest["splits"]["validation"]["tokens"]),
        # the ablation's own keys first: what changed is then told as the user wrote it (training.tokens)
        "made_of": {"training": t.model_dump(mode="json", exclude={"threads", "runs_at_once", "seeds"}),
                    "trainer": json.loads(json.dumps(trainer)), "data": documents_identity(output),
                    "evaluation": cfg.evaluation.model_dump(mode="json"), "evaluation_sets": sets.digest()},
    }


def run_specs(cfg: AblationConfig, tokenized: dict[str, Path], sets: EvaluationSets) -> list[dict]:
    """One spec per (arm, seed), on the arm's own mixture (the manifest's weights)."""
    return [run_spec(cfg, cfg.training, arm, output, seed, Path(cfg.output) / "runs" / arm / f"seed{seed}", sets)
            for arm, output in tokenized.items() for seed in cfg.training.seeds]


TRAINED_OF = ("training", "trainer", "data")  # the keys of a run's `made_of` that made its model


def trained_of(made_of: dict) -> dict:
    return {key: made_of.get(key) for key in TRAINED_OF}


class _Labelled(io.TextIOBase):
    """A text stream that starts every line with a label (which run printed it) and passes it on."""

    def __init__(self, label: str, stream) -> None:
        self.label, self.stream, self.partial = label, stream, ""

    def write(self, text: str) -> int:
        *lines, self.partial = (self.partial + text).split("\n")
        for line in lines:
            self.stream.write(f"{self.label} {line}\n")
        self.stream.flush()
        return len(text)

    def close_line(self) -> None:
        if self.partial:
            self.write("\n")


def train_and_evaluate(spec: dict) -> dict:
    """One run: train with the bundled trainer (resuming a checkpoint of the same settings), evaluate, write
    `result.json`. The trainer's lines are labelled with the run's arm and seed."""
    from curate.trainer import config as trainer_config_module
    from curate.trainer.launch import main as train

    run_dir = Path(spec["run_dir"])
    record(run_dir / "made_of.json", spec["made_of"])
    config_path = run_dir / "train.yaml"
    config_path.write_text(yaml.safe_dump(spec["trainer"], sort_keys=False))
    label = f"[{spec['arm']}/seed{spec['seed']}]"
    out = _Labelled(label, sys.stdout)
    started = time.time()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(_Labelled(label, sys.stderr)):
        status = train(str(config_path), [])
    out.close_line()
    if status != 0:
        raise CurateError(f"run {spec['arm']}/seed{spec['seed']}: `curate train {config_path}` exited {status}")
    train_seconds = time.time() - started
    started = time.time()
    metrics = evaluate_run(trainer_config_module.load(config_path), spec)
    result = {
        "arm": spec["arm"], "seed": spec["seed"], "tokens": spec["tokens"], "train_tokens": spec["train_tokens"],
        "epochs": spec["epochs"], "leaks": spec["leaks"], "train_seconds": round(train_seconds, 2),
        "eval_seconds": round(time.time() - started, 2), "metrics": metrics, "made_of": spec["made_of"],
        "log": [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()],
    }
    tmp = run_dir / "result.json.tmp"
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, run_dir / "result.json")  # written last: the run is done
    return result


def evaluate_run(train_cfg, spec: dict) -> dict:
    """Metrics of a run's final checkpoint, keyed `bpb/<set>`, `acc/<set>`, `acc_norm/<set>`, `val_loss/<domain>`.
    Windows are scored `evaluation.batch` at a time; on a GPU a run trained in bf16 is scored in bf16 (autocast, as
    it trained), the sums in float32 and float64."""
    import torch

    from curate.pipeline.tokenizer import load_tokenizer
    from curate.trainer import checkpoint, data, evaluate

    manifest = data.read_manifest(spec["manifest"])
    tokenizer_file = str(manifest.root / "tokenizer" / "tokenizer.json")
    tokenizer, eos_id, _, _ = load_tokenizer(tokenizer_file, None)
    device = "cuda" if train_cfg.device != "cpu" and torch.cuda.is_available() else "cpu"
    try:
        model, _ = checkpoint.load_model(Path(train_cfg.output), device)
    except checkpoint.CheckpointError as error:
        raise CurateError(f"run {spec['arm']}/seed{spec['seed']}: {error}") from None
    seq_len, batch = train_cfg.data.seq_len, spec["evaluation"]["batch"]
    bf16 = device == "cuda" and train_cfg.parallel.dtype == "bf16"
    precision = torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    def encode(text: str) -> list[int]:
        return tokenizer.encode(text, add_special_tokens=False).ids

    metrics: dict[str, dict] = {}
    with precision:
        for ref in spec["evaluation"]["reference"]:
            texts = reference_texts(ref["path"], ref["text_field"], f"evaluation.reference {ref['name']}")
            bpb = evaluate.bits_per_byte(model, texts, encode, eos_id, seq_len, batch)
            metrics[f"bpb/{ref['name']}"] = {"value": bpb.bits_per_byte, "bytes": bpb.bytes, "tokens": bpb.tokens,
                                             "documents": bpb.documents}
        for mc in spec["evaluation"]["multiple_choice"]:
            items = choice_items(mc["path"], f"evaluation.multiple_choice {mc['name']}")
            scores = evaluate.multiple_choice(model, items, encode, eos_id, seq_len, batch)
            for name, values in (("acc", scores.acc), ("acc_norm", scores.acc_norm)):
                metrics[f"{name}/{mc['name']}"] = {"value": float(values.mean()),
                                                   "stderr": evaluate.mean_stderr(values), "items": len(items)}
        for domain, docs in sorted(validation_documents(manifest).items()):
            loss, n = evaluate.token_loss(model, docs, eos_id, seq_len, batch)
            if n:
                metrics[f"val_loss/{domain}"] = {"value": loss, "tokens": n, "documents": len(docs)}
    return metrics


def validation_documents(manifest) -> dict[str, list]:
    """Each domain's validation documents as token arrays, read from the shards' validation rows alone (a GPU-sized
    arm holds billions of training tokens that need not be read to score them)."""
    by_domain: dict[str, list] = {}
    for shard in manifest.shards:
        table = pq.read_table(manifest.root / shard["path"], columns=["tokens"],
                              filters=[("split", "==", "validation")])
        tokens = table.column("tokens").combine_chunks()
        values, offsets = tokens.values.to_numpy(), tokens.offsets.to_numpy()
        by_domain.setdefault(shard["domain"], []).extend(values[offsets[i]:offsets[i + 1]]
                                                         for i in range(len(tokens)))
    return by_domain


def _worker_init(devices) -> None:
    """A pool worker takes one GPU for all its runs (before torch sees CUDA)."""
    device = devices.get()
    if device is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(device)


def execute(specs: list[dict], cfg: AblationConfig, progress) -> list[dict]:
    """Every run not done with the same settings, data and evaluation sets, one after another or `runs_at_once` in
    parallel (one GPU each), after a line that says how long they should take (`ablate_estimate`). A run made of
    other settings or data is deleted first (its checkpoint must not be resumed); a run whose evaluation alone changed
    keeps its checkpoint and is only evaluated again. Returns the results in the order of `specs`."""
    results, todo = [], []
    for spec in specs:
        run_dir, name = Path(spec["run_dir"]), f"{spec['arm']}/seed{spec['seed']}"
        done = recorded(run_dir / "result.json")
        if done is not None and difference(done.get("made_of"), spec["made_of"]) is None:
            results.append(done)
            continue
        if run_dir.exists():
            changed = changed_since(run_dir / "made_of.json", spec["made_of"])
            earlier = recorded(run_dir / "made_of.json")
            if changed and earlier is not None and difference(trained_of(earlier), trained_of(spec["made_of"])) is None:
                # the same model: its final checkpoint is kept, and only scored again
                progress(f"run {name}: evaluation changed since it ran ({changed}): evaluating it again")
                (run_dir / "result.json").unlink(missing_ok=True)
                spec["evaluate_only"] = True  # for the estimate: no step to train
            elif changed:  # another model: its checkpoint must not be resumed
                progress(f"run {name}: changed since it ran ({changed}): training it again")
                shutil.rmtree(run_dir)
        todo.append(spec)
    if results:
        progress(f"{len(results)} run(s) already done with these settings, data and evaluation sets: kept")
    gpus = _gpu_count() if cfg.training.device != "cpu" else 0
    at_once = min(cfg.training.runs_at_once or max(gpus, 1), max(len(todo), 1))
    from curate.trainer.config import default_threads

    for spec in todo:  # runs side by side on a CPU share its cores
        spec["trainer"]["train"]["threads"] = cfg.training.threads or (
            default_threads(at_once) if at_once > 1 and not gpus else None)
    if todo:
        from curate.workflows.ablate_estimate import estimate

        progress(estimate(todo, at_once, cfg.evaluation.batch))
    pace = Pace(len(todo))
    if at_once == 1:
        for spec in todo:
            progress(f"run {spec['arm']}/seed{spec['seed']}: {spec['tokens']:,} tokens "
                     f"({spec['epochs']:.2f} epochs of its data)")
            results.append(train_and_evaluate(spec))
            progress(run_summary(results[-1]) + pace.done())
        return in_order(results, specs)
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # fresh processes: CUDA must not be initialised in a fork
    devices = context.Queue()
    for worker in range(at_once):
        devices.put(worker % gpus if gpus else None)
    progress(f"{len(todo)} run(s), {at_once} at once" + (f" on {gpus} GPU(s)" if gpus else ""))
    with ProcessPoolExecutor(at_once, mp_context=context, initializer=_worker_init, initargs=(devices,)) as pool:
        for finished in as_completed([pool.submit(train_and_evaluate, spec) for spec in todo]):
            results.append(finished.result())
            progress(run_summary(results[-1]) + pace.done())
    return in_order(results, specs)


class Pace:
    """The estimate corrected by what the runs take here: after each run, the time left at the pace so far (a
    shared or loaded machine runs slower than the steps measured before the start)."""

    def __init__(self, runs: int):
        self.runs, self.finished, self.started = runs, 0, time.monotonic()

    def done(self) -> str:
        from curate.trainer.train import duration

        self.finished += 1
        left = self.runs - self.finished
        if not left:
            return ""
        return (f"; {left} run(s) left, about {duration((time.monotonic() - self.started) / self.finished * left)} "
                "at the pace so far")


def in_order(results: list[dict], specs: list[dict]) -> list[dict]:
    by_run = {(r["arm"], r["seed"]): r for r in results}
    return [by_run[spec["arm"], spec["seed"]] for spec in specs]


def run_summary(result: dict) -> str:
    """The line that says a run is done: its steps and times, and its scores."""
    steps = max((rec["step"] for rec in result["log"] if rec.get("kind") == "train"), default=0)
    scores = ", ".join(f"{name} {metric['value']:.4f}" for name, metric in sorted(result["metrics"].items()))
    return (f"run {result['arm']}/seed{result['seed']} done: {steps} steps in {result['train_seconds']:.0f} s, "
            f"evaluated in {result['eval_seconds']:.0f} s: {scores}")


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@contextlib.contextmanager
def _one_engine(cfg: AblationConfig):
    """What the engine starts (Spark's JVM, ~10 s) kept for all the curate runs of the ablation, when every pipeline
    arm runs on the same engine with the same settings (`Engine.kept_open`); otherwise each run starts its own."""
    from curate.pipeline.engine import kept_open

    engines = [pipeline_config.load(arm.pipeline, {"input": {"paths": ["."], "dataset": "x"}}).engine
               for arm in cfg.arms if arm.pipeline is not None]
    if not engines or any(e != engines[0] for e in engines):
        yield
        return
    with kept_open(engines[0]):
        yield


def ablate(cfg: AblationConfig, progress=None) -> dict:
    """Steps 1-5 of the module docstring; returns the results (also written under OUTPUT)."""
    from curate.workflows.ablate_results import summarise, write_results

    progress = progress or (lambda line: None)
    started = time.time()
    for arm in cfg.arms:  # before any engine starts
        if arm.output is not None and not Output(arm.output).exists(MANIFEST):
            raise CurateError(f"arm {arm.name}: output {arm.output!r} is not a finished curate output (no {MANIFEST})")
    sets = evaluation_sets(cfg)  # before any arm runs: a set with nothing to score is refused now, not scored 0
    documents: dict[str, Path] = {}
    with _one_engine(cfg):
        for arm in cfg.arms:
            documents[arm.name] = arm_documents(arm, cfg, documents, progress)
        tokenizer = shared_tokenizer(cfg, documents, progress)
        benchmarks = leak_benchmarks(cfg, sets)
        tokenized = {arm: tokenize_arm(arm, path, tokenizer, cfg, benchmarks, sets, progress)
                     for arm, path in documents.items()}
    sha256 = check_tokenizers(tokenized, tokenizer)
    from curate.workflows.ablate_estimate import evaluated_tokens

    sets.tokens = evaluated_tokens(sets.texts(), str(tokenizer))
    specs = run_specs(cfg, tokenized, sets)
    search = None
    if cfg.search is not None:
        search, verification = mixture_search(cfg, tokenized[cfg.search.arm], sets, progress)
        specs += verification
    runs = execute(specs, cfg, progress)
    results = summarise(cfg, runs, sha256)
    if search is not None:
        from curate.workflows.ablate_results import better_is_lower
        from curate.workflows.ablate_search import verdict

        arm, metric = cfg.search.arm, cfg.search.metric
        search["verification"] = verdict(results["arms"], arm, arm + SEARCHED, metric, better_is_lower(metric))
        results["search"] = search
    results["wall_seconds"] = round(time.time() - started, 1)
    write_results(cfg, results)
    return results


def mixture_search(cfg: AblationConfig, output: Path, sets: EvaluationSets, progress) -> tuple[dict, list[dict]]:
    """Step 5 of the module docstring: proxy runs on mixtures of the searched arm's domains drawn around the natural
    one, a regression per metric, the predicted best mixture (`ablate_search`); returns the search's results and the
    verification runs (the arm's data on the chosen mixture, every seed, the full budget) to run beside the arms'."""
    import numpy as np

    from curate.workflows import ablate_search as search
    from curate.workflows.ablate_results import better_is_lower

    s = cfg.search
    budget = cfg.training.steps * cfg.training.tokens_per_step
    domains = search.domains_of(Output(str(output)).read_json(MANIFEST), budget, s.max_epochs)
    weights = search.draw(domains, s.proxies, s.concentration, np.random.default_rng([s.seed, 0]))
    proxy = cfg.training.model_copy(update={"tokens": s.tokens, "preset": s.preset, "seeds": [s.seed]})
    root = Path(cfg.output) / "search" / s.arm
    specs = []
    for k, w in enumerate(weights):
        name = search.proxy_name(k, s.proxies)
        specs.append(run_spec(cfg, proxy, name, output, s.seed, root / name, sets, dict(zip(domains.names, w.tolist()))))
    natural = ", ".join(f"{d} {w:.3f}" for d, w in zip(domains.names, domains.natural))
    progress(f"search: {s.proxies} proxy runs ({s.preset}, {proxy.steps * proxy.tokens_per_step:,} tokens each) on "
             f"mixtures drawn around the natural one ({natural}), {s.held_out} held out of the first fit")
    proxies = execute(specs, cfg, progress)
    held_out = np.arange(s.proxies) >= s.proxies - s.held_out
    metrics = sorted(set.intersection(*(set(p["metrics"]) for p in proxies)))
    summary = search.search_summary(domains, weights, held_out, proxies, metrics, s.metric, s.regression,
                                    better_is_lower, s.concentration, s.max_epochs, budget,
                                    np.random.default_rng([s.seed, 1]))
    rho = summary["fits"][s.metric]["held_out_spearman"][s.regression]
    chosen = ", ".join(f"{d} {w:.4f}" for d, w in summary["chosen"].items())
    progress(f"search: {s.regression} regression of {s.metric}, Spearman on the {s.held_out} held-out proxies "
             f"{'n/a' if rho is None else f'{rho:.3f}'}; chosen mixture: {chosen}")
    verification = [run_spec(cfg, cfg.training, s.arm + SEARCHED, output, seed,
                             Path(cfg.output) / "runs" / (s.arm + SEARCHED) / f"seed{seed}", sets, summary["chosen"])
                    for seed in cfg.training.seeds]
    return summary, verification
