"""Token shards per domain: the tokenize stage's collector and result, and the manifest sections that describe them
(docs/FORMAT.md).

`ShardSink` takes each batch of kept documents of one input file, moves the `tokens` column into Parquet shards under
`shards/<domain>/` (columns `id, uid, domain, split, n_tokens, tokens`), and returns the batch without it for
`documents/`. A shard closes at the first document that takes it to the tokenize stage's `shard_tokens`; its name
carries the task's attempt tag, its sha256 is taken as it is written. `split` is a seeded hash of the dedup cluster
(`dup_cluster`, else the uid), so near-duplicates never straddle train and validation. Without a `domain` column the
domain is the dataset (`source`). When the kept documents carry a `repeats` column (a count per document: balance's
`repeats:`, or an input field), the shards get it too (int32, null read as 1), and the trainer puts a document with
count k in every epoch k times (docs/TRAINER.md); the entries then total `repeated_tokens` beside the unique `tokens`.

`manifest_section` runs once at the end: it copies the tokenizer into `tokenizer/`, lists the shards, sums the domains
and splits, and takes each domain's weight and epoch cap from the mixture a stage of the run published (`mixture`,
balance's plan result; without one, the natural mixture of training tokens, every copy counted, capped at
`DEFAULT_MAX_EPOCHS`), writing the achieved-versus-target report to `balance.json`.
"""
from __future__ import annotations

import hashlib
import html
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.pipeline.output import Folder, Output
from curate.filters.uid_hash import uid_hash, unit_interval
from curate.pipeline.sections import KEPT, RunView, Section, figure, pct, table
from curate.pipeline.stage import Collector, Partial, Published, Stage
from curate.pipeline.tokenizer import load_tokenizer, token_dtype

SHARDS = "shards"  # the token shards' folder in the output (docs/FORMAT.md)

DEFAULT_MAX_EPOCHS = 4.0
MAX_REPEATS = 1000  # bounds a document's share of the trainer's index (Dolma 3 repeats up to 7x, FineWeb-2 10x)
BALANCE_REPORT = "balance.json"
TOKENIZER_FILE = "tokenizer/tokenizer.json"
SPLIT_SALT = 0x73706C6974  # "split": independent of the down-sampling hash
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def shard_schema(dtype: str, repeats: bool = False) -> pa.Schema:
    """The shards' columns; `repeats` (int32) last when the kept documents carry a repeat count."""
    schema = pa.schema([("id", pa.string()), ("uid", pa.binary(16)), ("domain", pa.string()), ("split", pa.string()),
                        ("n_tokens", pa.int32()),
                        ("tokens", pa.list_(pa.uint16() if dtype == "uint16" else pa.int32()))])
    return schema.append(pa.field("repeats", pa.int32())) if repeats else schema


def repeat_counts(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The `repeats` column as int32 counts (null: 1) and which rows hold no count: not a whole number (a JSONL field
    arrives as text, "3" or "3.0"), or outside 1..MAX_REPEATS."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        text = pc.utf8_trim_whitespace(values)
        whole = pc.match_substring_regex(text, r"^[0-9]{1,9}(\.0*)?$")
        numbers = pc.cast(pc.cast(pc.if_else(whole, text, pa.scalar(None, text.type)), pa.float64()), pa.int64())
        invalid = pc.and_(pc.is_valid(values), pc.invert(pc.fill_null(whole, False)))
    elif pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        as_float = pc.cast(values, pa.float64())
        whole = pc.and_(pc.equal(pc.floor(as_float), as_float), pc.less_equal(pc.abs(as_float), 1e9))
        numbers = pc.cast(pc.if_else(whole, as_float, pa.scalar(None, pa.float64())), pa.int64())
        invalid = pc.and_(pc.is_valid(values), pc.invert(pc.fill_null(whole, False)))
    else:
        return pa.array(np.ones(len(values), np.int32)), pc.is_valid(values)
    counts = pc.fill_null(numbers, 1)
    out_of_range = pc.or_(pc.less(counts, 1), pc.greater(counts, MAX_REPEATS))
    return pc.if_else(out_of_range, 1, counts).cast(pa.int32()), pc.or_(invalid, out_of_range)


def splits(batch: pa.RecordBatch, fraction: float, seed: int) -> pa.Array:
    """`train` or `validation` per row, by a seeded hash of the dedup cluster (or the uid for singletons)."""
    key = batch.column("uid")
    if "dup_cluster" in batch.schema.names:
        key = pc.coalesce(batch.column("dup_cluster").cast(pa.binary(16)), key)
    held_out = unit_interval(uid_hash(key, seed, SPLIT_SALT)) < fraction
    return pa.array(np.where(held_out, "validation", "train"), pa.string())


class _HashingFile:
    """A writable file that keeps the sha256 of what passes through it."""

    def __init__(self, raw):
        self.raw, self.sha256, self.closed, self.position = raw, hashlib.sha256(), False, 0

    def write(self, data) -> int:
        self.sha256.update(data)
        self.position += len(data)
        return self.raw.write(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        self.raw.flush()

    def close(self) -> None:
        if not self.closed:
            self.raw.close()
            self.closed = True

    def writable(self) -> bool:
        return True


@dataclass
class _Shard:
    path: str
    domain: str
    stream: _HashingFile
    writer: pq.ParquetWriter
    counted: bool  # the rows carry `repeats`
    rows: int = 0
    tokens: int = 0
    repeated_tokens: int = 0
    split_counts: dict = field(default_factory=lambda: {"train": [0, 0, 0], "validation": [0, 0, 0]})

    def write(self, rows: pa.RecordBatch) -> None:
        self.writer.write_batch(rows)
        n_tokens = rows.column("n_tokens").to_numpy()
        repeated = n_tokens * rows.column("repeats").to_numpy() if self.counted else n_tokens
        held_out = pc.equal(rows.column("split"), "validation").to_numpy(zero_copy_only=False)
        self.rows += rows.num_rows
        self.tokens += int(n_tokens.sum())
        self.repeated_tokens += int(repeated.sum())
        for name, mask in (("train", ~held_out), ("validation", held_out)):
            counts = self.split_counts[name]
            counts[0] += int(mask.sum())
            counts[1] += int(n_tokens[mask].sum())
            counts[2] += int(repeated[mask].sum())

    def close(self) -> dict:
        """The shard's manifest entry; with counts, `repeated_tokens` (each document's tokens times its count) beside
        the unique `tokens`, in the entry and its splits."""
        self.writer.close()
        self.stream.close()
        entry = {"path": self.path, "domain": self.domain, "rows": self.rows, "tokens": self.tokens,
                 "sha256": self.stream.sha256.hexdigest(),
                 "splits": {k: {"documents": d, "tokens": t} for k, (d, t, _) in self.split_counts.items()}}
        if self.counted:
            entry["repeated_tokens"] = self.repeated_tokens
            for name, (_, _, repeated) in self.split_counts.items():
                entry["splits"][name]["repeated_tokens"] = repeated
        return entry


class ShardSink(Collector):
    """The token shards of one input file's last pass: one open shard per domain, closed at `shard_tokens`."""

    def __init__(self, params, folder: Folder, tag: str):
        self.folder, self.tag = folder, tag
        self.params = params
        _, _, vocab_size, _ = load_tokenizer(self.params.tokenizer, self.params.eos_token)
        self.dtype = token_dtype(vocab_size)
        self.open: dict[str, _Shard] = {}
        self.count: dict[str, int] = {}
        self.entries: list[dict] = []

    def kept(self, kept: pa.RecordBatch) -> pa.RecordBatch:
        """Write `kept`'s tokens to the shards; returns `kept` without them (for documents/)."""
        if "tokens" not in kept.schema.names:
            return kept
        if kept.num_rows:
            domain = pc.fill_null(kept.column("domain" if "domain" in kept.schema.names else "source")
                                  .cast(pa.string()), "other")
            counted = "repeats" in kept.schema.names  # the same in every batch of a pass: one chain of stages
            schema = shard_schema(self.dtype, counted)
            columns = [kept.column("id"), kept.column("uid"), domain,
                       splits(kept, self.params.validation_fraction, self.params.seed),
                       kept.column("n_tokens").cast(pa.int32()), kept.column("tokens").cast(schema.field("tokens").type)]
            if counted:
                columns.append(repeat_counts(kept.column("repeats"))[0])
            rows = pa.RecordBatch.from_arrays(columns, schema=schema)
            for name in sorted(pc.unique(domain).to_pylist()):
                self._append(name, rows.filter(pc.equal(domain, name)))
        return kept.drop_columns(["tokens"])

    def _append(self, domain: str, rows: pa.RecordBatch) -> None:
        target = self.params.shard_tokens
        while rows.num_rows:
            shard = self.open.get(domain) or self._new(domain, rows)
            reached = np.cumsum(rows.column("n_tokens").to_numpy()) + shard.tokens >= target
            take = int(np.argmax(reached)) + 1 if reached.any() else rows.num_rows
            shard.write(rows.slice(0, take))
            rows = rows.slice(take)
            if shard.tokens >= target:
                self.entries.append(self.open.pop(domain).close())

    def _new(self, domain: str, rows: pa.RecordBatch) -> _Shard:
        folder = _UNSAFE.sub("_", domain) or "_"
        number = self.count.get(domain, 0)
        self.count[domain] = number + 1
        name = f"{folder}/part-{self.tag}-{number:05d}.parquet"
        path = self.folder.path(name)
        stream = _HashingFile(self.folder.open_write(name))
        writer = pq.ParquetWriter(stream, rows.schema, compression="zstd")
        self.open[domain] = _Shard(path, domain, stream, writer, counted="repeats" in rows.schema.names)
        return self.open[domain]

    def close(self) -> Partial:
        """Close the open shards; the entries of every shard this file wrote, with their per-split counts."""
        for domain in sorted(self.open):
            self.entries.append(self.open[domain].close())
        self.open.clear()
        return Partial(self.entries, [entry["path"] for entry in self.entries])


def manifest_section(params, output: Output, partials: list[list[dict]], mixture: Published | None) -> dict:
    """`tokenizer`, `shards`, `domains`, `splits` (and `balance`) of manifest.json, from the shard entries of every
    file (`partials`) and the `mixture` a stage of the run published (balance's), if any."""
    tokenizer_path = params.tokenizer
    _, eos_id, vocab_size, sha256 = load_tokenizer(tokenizer_path, params.eos_token)
    with open(tokenizer_path, "rb") as f:
        data = f.read()
    output.fs.makedirs(output.path("tokenizer"), exist_ok=True)
    output.fs.pipe_file(output.path(TOKENIZER_FILE), data)

    entries = sorted((e for entries in partials for e in entries), key=lambda e: e["domain"])  # stable
    domains: dict[str, dict] = {}
    split_totals = {"train": {"documents": 0, "tokens": 0}, "validation": {"documents": 0, "tokens": 0}}
    train_tokens: dict[str, int] = {}
    counted = any("repeated_tokens" in e for e in entries)  # documents carried repeat counts: totals of both kinds
    for e in entries:
        d = domains.setdefault(e["domain"], {"documents": 0, "tokens": 0})
        d["documents"] += e["rows"]
        d["tokens"] += e["tokens"]
        # what an epoch of the trainer holds: every copy of a document with a repeat count
        train_tokens[e["domain"]] = train_tokens.get(e["domain"], 0) + repeated(e["splits"]["train"])
        for name, counts in e["splits"].items():
            split_totals[name]["documents"] += counts["documents"]
            split_totals[name]["tokens"] += counts["tokens"]
        if counted:
            d["repeated_tokens"] = d.get("repeated_tokens", 0) + repeated(e)
            for name, counts in e["splits"].items():
                split_totals[name]["repeated_tokens"] = split_totals[name].get("repeated_tokens", 0) + repeated(counts)

    sections: dict = {}
    if mixture is None or mixture.value is None:
        total = sum(train_tokens.values()) or 1
        for name, d in domains.items():
            d.update(weight=train_tokens[name] / total, max_epochs=DEFAULT_MAX_EPOCHS)
    else:
        stage_id, summary = mixture.stage, mixture.value
        decided = summary["domains"]
        total = sum(decided[name]["weight"] for name in domains if name in decided) or 1.0
        for name, d in domains.items():
            info = decided.get(name, {"weight": 0.0, "target": 0.0, "max_epochs": DEFAULT_MAX_EPOCHS})
            d.update(weight=info["weight"] / total, max_epochs=info["max_epochs"], target=info["target"])
        output.write_json(BALANCE_REPORT, balance_report(stage_id, summary, domains, train_tokens))
        sections["balance"] = BALANCE_REPORT

    sections.update({
        "tokenizer": {"file": TOKENIZER_FILE, "sha256": sha256, "vocab_size": vocab_size, "eos_id": eos_id,
                      "dtype": token_dtype(vocab_size)},
        "shards": [{k: e[k] for k in ("path", "domain", "rows", "tokens", "repeated_tokens", "sha256") if k in e}
                   for e in entries],
        "domains": domains,
        "splits": split_totals,
    })
    return sections


def repeated(counts: dict) -> int:
    """Tokens with every copy counted (a shard entry's or a split's): `repeated_tokens`, or `tokens` without counts."""
    return counts.get("repeated_tokens", counts["tokens"])


def balance_report(stage_id: str, summary: dict, domains: dict[str, dict], train_tokens: dict[str, int]) -> dict:
    """Achieved versus target shares, per domain, with what the caps allow in training tokens.

    `max_training_tokens` is the longest run (in tokens) the manifest's weights support before a domain would pass its
    `max_epochs`; the trainer refuses to go past it.
    """
    decided = summary["domains"]
    rows, limits = {}, []
    for name in sorted(set(decided) | set(domains)):
        d, info = domains.get(name), decided.get(name, {})
        weight = d["weight"] if d else 0.0
        train = train_tokens.get(name, 0)
        if weight > 0 and train:
            limits.append(d["max_epochs"] * train / weight)
        rows[name] = {"target": info.get("target", 0.0), "achieved": round(weight, 6),
                      "available": info.get("available", 0), "kept": info.get("keep", 0),
                      "documents": d["documents"] if d else 0, "tokens": d["tokens"] if d else 0,
                      "train_tokens": train, "max_epochs": d["max_epochs"] if d else info.get("max_epochs")}
    notes = list(summary["notes"])
    notes += [f"{name}: weighted {info['weight']:.4f} but no shards were written"
              for name, info in decided.items() if info["weight"] > 0 and name not in domains]
    report = {"stage": stage_id, "by": summary["by"], "mode": summary["mode"], "temperature": summary["temperature"],
              "budget": summary["budget"], "feasible": not notes, "notes": notes,
              "max_training_tokens": int(min(limits)) if limits else 0, "domains": rows}
    if "repeats" in summary:  # balance's repeat counts: the inflation of what it saw, per domain and bucket/language
        report["repeats"] = summary["repeats"]
    return report


# ---- what the run report shows ---------------------------------------------------------------------------------

def domains_section(run: RunView, stages: list[Stage]) -> Section | None:
    """The run report's domain mixture (input, target, achieved) and tokens per domain and split."""
    domains = run.manifest.get("domains")
    body = []
    if domains:
        balance = run.output.read_json(run.manifest["balance"]) if "balance" in run.manifest else None
        names = sorted(domains, key=lambda d: -domains[d]["tokens"])
        available = {}
        if balance:
            total_available = sum(r["available"] for r in balance["domains"].values()) or 1
            available = {d: r["available"] / total_available for d, r in balance["domains"].items()}
        total_tokens = sum(d["tokens"] for d in domains.values()) or 1
        plot = figure(11, 3.4)
        mix, tokens = plot.subplots(1, 2)
        x = np.arange(len(names))
        bars = [("input", [available.get(n, 0.0) for n in names], "#aaaaaa")] if available else []
        if any("target" in domains[n] for n in names):
            bars.append(("target", [domains[n].get("target", 0.0) for n in names], "#f0ad4e"))
        bars.append(("achieved (manifest weight)", [domains[n]["weight"] for n in names], KEPT))
        width = 0.8 / len(bars)
        for i, (label, values, colour) in enumerate(bars):
            mix.bar(x + (i - (len(bars) - 1) / 2) * width, values, width, label=label, color=colour)
        mix.set_xticks(x, names)
        mix.set_ylabel("share of training tokens")
        mix.set_title("domain mixture", fontsize=10)
        mix.legend(fontsize=7)
        tokens.bar(names, [domains[n]["tokens"] for n in names], color=KEPT)
        tokens.set_title("tokens per domain (shards)", fontsize=10)
        tokens.tick_params(labelsize=8)
        rows = [[n, domains[n]["documents"], domains[n]["tokens"], pct(domains[n]["tokens"], total_tokens),
                 domains[n].get("target"), domains[n]["weight"], domains[n].get("max_epochs")] for n in names]
        body += [run.plot("domains", plot),
                 table(["domain", "documents", "tokens", "of tokens", "target", "weight", "max epochs"], rows)]
        splits = run.manifest.get("splits")
        if splits:
            body.append(table(["split", "documents", "tokens"],
                               [[k, v["documents"], v["tokens"]] for k, v in splits.items()]))
        if balance:
            feasible = "feasible" if balance["feasible"] else "not feasible"
            body.append(f"<p>Balance ({html.escape(balance['mode'])} by {html.escape(balance['by'])}): {feasible}; "
                        f"the weights support up to {balance['max_training_tokens']:,} training tokens before a "
                        "domain passes its max_epochs.</p>")
            for note in balance["notes"]:
                body.append(f'<p class="warn">{html.escape(note)}</p>')
            if "repeats" in balance:
                body += repeats_tables(balance["repeats"], domains)
    elif "n_tokens" in run.columns:
        key = "domain" if "domain" in run.columns else None
        documents = run.sample([key, "n_tokens"] if key else ["n_tokens"])
        labels = documents.column(key).to_pylist() if key else ["(all)"] * documents.num_rows
        per: Counter[str] = Counter()
        for label, n in zip(labels, documents.column("n_tokens").to_pylist()):
            per[str(label)] += int(n or 0) * run.stride
        plot = figure(6, 3)
        ax = plot.add_subplot()
        ax.bar(list(per), list(per.values()), color=KEPT)
        ax.set_title("tokens per domain (kept documents)", fontsize=10)
        body += [run.plot("domains", plot), table(["domain", "tokens"], [[k, v] for k, v in per.most_common()])]
    else:
        return None
    return Section("domains", "Domains and tokens", body)


def repeats_tables(repeats: dict, domains: dict[str, dict]) -> list[str]:
    """The inflation of balance's repeat counts: per domain in the shards (tokens with every copy over unique tokens),
    and over the documents balance saw, per domain and per quality bucket or language."""
    unit = repeats["by"]
    body = [f"<p>Repeats ({html.escape(repeats['source'])}, at most {repeats['max_repeats']} a document): "
            f"{repeats['all']['repeated_units']:,} {unit} with every copy from {repeats['all']['units']:,} unique, "
            f"{repeats['all']['inflation']:.2f}x over the documents balance saw.</p>"]
    shards = [[n, d["tokens"], d.get("repeated_tokens", d["tokens"]),
               f"{d.get('repeated_tokens', d['tokens']) / d['tokens']:.2f}x" if d["tokens"] else "-"]
              for n, d in sorted(domains.items())]
    body.append(table(["domain", "unique tokens (shards)", "with every copy", "inflation"], shards))
    for group in ("domains", "quality_bucket", "lang"):
        if group in repeats:
            rows = [[name, r["documents"], r["units"], r["repeated_units"], f"{r['inflation']:.2f}x"]
                    for name, r in repeats[group].items()]
            label = "domain" if group == "domains" else group
            body.append(table([label, "documents", f"unique {unit}", f"{unit} with every copy", "inflation"], rows))
    return body


def mixture_text(run: RunView, stages: list[Stage]) -> list:
    """The decided mixture for `curate report` on the console: target versus achieved share, per domain."""
    if "balance" not in run.manifest:
        return []
    from rich.table import Table

    balance = run.output.read_json(run.manifest["balance"])
    listing = Table(title=f"mixture ({balance['by']}, {balance['mode']})", title_justify="left")
    for column in ("domain", "target", "achieved", "available", "kept", "train tokens", "max epochs"):
        listing.add_column(column, justify="left" if column == "domain" else "right")
    for name, row in balance["domains"].items():
        listing.add_row(name, f"{row['target']:.3f}", f"{row['achieved']:.3f}", f"{row['available']:,}",
                        f"{row['kept']:,}", f"{row['train_tokens']:,}", f"{row['max_epochs']}")
    notes = [f"  {note}" for note in balance["notes"] or ["target met"]]
    return [listing, *notes, f"  the weights support up to {balance['max_training_tokens']:,} training tokens"]
