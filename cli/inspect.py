"""`curate inspect`: a few documents of a finished run — kept or rejected with reasons — or of a token shard, decoded.

Everything is found through the manifest, as a trainer would. `where` filters rows with clauses like
`lang == de and gopher_quality_word_count > 300` (columns compared with `== != < <= > >=`, joined by `and`), parsed
into an Arrow expression, never evaluated as code. Rejected rows come from the reject ledger: their text only where
the run had `write_rejects: true`.
"""
from __future__ import annotations

import difflib
import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from rich.table import Table

from curate.pipeline.errors import CurateError
from curate.pipeline.output import MANIFEST, Output
from curate.pipeline.schema import REJECT

TEXT_CHARS = 240
TOKENS_SHOWN = 48
# What a kept document's row shows beside its id and text, when the run has it.
_DEFAULT_COLUMNS = ("lang", "lang_score", "domain", "n_tokens", "dup_cluster_size")
_CLAUSE = re.compile(r"""\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|<=|>=|=|<|>)\s*("[^"]*"|'[^']*'|[^\s]+)\s*""")
_OPS = {"==": "equal", "=": "equal", "!=": "not_equal", "<": "less", "<=": "less_equal", ">": "greater",
        ">=": "greater_equal"}


def parse_where(text: str, schema: pa.Schema) -> pc.Expression:
    """`col op value [and col op value ...]` as an Arrow filter over `schema`; CurateError naming what is wrong."""
    expression = None
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.fullmatch(part)
        if not match:
            raise CurateError(f"--where: cannot read {part!r}: write clauses like `lang == de` or `n_tokens > 100`, "
                              "joined by `and`")
        name, op, raw = match.groups()
        if name not in schema.names:
            raise CurateError(f"--where: {_no_column(name, schema.names)}")
        clause = getattr(pc, _OPS[op])(pc.field(name), pa.scalar(_value(raw, schema.field(name).type)))
        expression = clause if expression is None else expression & clause
    if expression is None:
        raise CurateError("--where: empty filter")
    return expression


def _no_column(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f"no column {name!r} (did you mean {close[0]!r}?)"
    shown = ", ".join(names[:15]) + (f", … ({len(names)} in all)" if len(names) > 15 else "")
    return f"no column {name!r}; columns: {shown}"


def _value(raw: str, kind: pa.DataType) -> Any:
    if raw[:1] in "\"'" and raw[-1:] == raw[:1]:
        raw = raw[1:-1]
    if pa.types.is_boolean(kind):
        return raw.lower() in ("true", "1", "yes")
    if pa.types.is_integer(kind):
        try:
            return int(raw)
        except ValueError:
            raise CurateError(f"--where: {raw!r} is not a whole number") from None
    if pa.types.is_floating(kind):
        try:
            return float(raw)
        except ValueError:
            raise CurateError(f"--where: {raw!r} is not a number") from None
    return raw


def _finished(output_uri: str) -> tuple[Output, dict]:
    output = Output(output_uri)
    if not output.exists(MANIFEST):
        raise CurateError(f"{output_uri!r} holds no finished run ({MANIFEST} is missing)")
    return output, output.read_json(MANIFEST)


def _rows(output: Output, paths: list[str], n: int, where: str | None, reason: str | None,
          wanted: list[str] | None) -> tuple[pa.Table, pa.Schema | None]:
    """The first `n` rows of `paths` (in manifest order) that pass the filters, with the `wanted` columns."""
    found, schema = [], None
    taken = 0
    for path in paths:
        with output.fs.open(output.path(path), "rb") as f:
            table = pq.read_table(f)
        schema = schema or table.schema
        expression = parse_where(where, table.schema) if where else None
        if reason:
            prefix = pc.starts_with(pc.field(REJECT), reason)
            expression = prefix if expression is None else expression & prefix
        if expression is not None:
            table = ds.dataset(table).to_table(filter=expression)
        if wanted is not None:
            table = table.select([c for c in wanted if c in table.column_names])
        found.append(table.slice(0, n - taken))
        taken += min(table.num_rows, n - taken)
        if taken >= n:
            break
    if not found:
        return pa.table({}), schema
    return pa.concat_tables(found, promote_options="permissive"), schema


def _snippet(text: str | None, limit: int = TEXT_CHARS) -> str:
    if text is None:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, bytes):
        return value.hex()[:12]
    return str(value)


def inspect_documents(output_uri: str, n: int = 10, where: str | None = None, rejected: bool = False,
                      reason: str | None = None, columns: list[str] | None = None) -> Table:
    """A table of up to `n` kept documents (or rejected records, with `rejected` or a `reason` prefix)."""
    output, manifest = _finished(output_uri)
    if rejected or reason:
        paths = manifest.get("rejects", [])
        shown = ["id", REJECT, *(columns or []), "text"]
        kind = "rejected records" + (f" with reason {reason}*" if reason else "")
    else:
        paths = manifest.get("documents", [])
        shown = ["id", *(columns or _DEFAULT_COLUMNS), "text"]
        kind = "kept documents"
    table, schema = _rows(output, paths, n, where, reason, shown)
    if columns and schema is not None:
        missing = [c for c in columns if c not in schema.names]
        if missing:
            raise CurateError(f"--columns: {_no_column(missing[0], schema.names)}")
    title = f"{table.num_rows} {kind}" + (f" where {where}" if where else "") + f" — {output_uri}"
    view = Table(title=title, title_justify="left", show_lines=True)
    names = [c for c in shown if c in table.column_names]
    for name in names:
        view.add_column(name, overflow="fold", ratio=4 if name == "text" else None,
                        justify="right" if name not in ("id", "text", REJECT) and name in table.column_names
                        and (pa.types.is_integer(table.schema.field(name).type)
                             or pa.types.is_floating(table.schema.field(name).type)) else "left")
    if (rejected or reason) and "text" not in names:
        view.add_column("text")
    for row in table.to_pylist():
        cells = [_snippet(row[name]) if name == "text" else _cell(row[name]) for name in names]
        if (rejected or reason) and "text" not in names:
            cells.append("(text not kept: run with write_rejects: true)")
        view.add_row(*cells)
    return view


def _find(output: Output, paths: list[str], column: str, value: Any) -> dict | None:
    """The first row of `paths` whose `column` equals `value` (Parquet row-group statistics skip most files)."""
    for path in paths:
        with output.fs.open(output.path(path), "rb") as f:
            table = pq.read_table(f, filters=[(column, "=", value)])
        if table.num_rows:
            return table.slice(0, 1).to_pylist()[0]
    return None


def inspect_record(output_uri: str, doc_id: str) -> Table:
    """What became of one input record: kept, or the stage and rule that rejected it and, for a duplicate, the
    document kept in its place (its text where this run has it)."""
    output, manifest = _finished(output_uri)
    documents, rejects = manifest.get("documents", []), manifest.get("rejects", [])
    view = Table(title=f"{doc_id} — {output_uri}", title_justify="left", show_header=False, show_lines=True)
    view.add_column("field")
    view.add_column("value", overflow="fold", ratio=4)
    kept = _find(output, documents, "id", doc_id)
    if kept is not None:
        view.add_row("outcome", "kept")
        view.add_row("text", _snippet(kept.get("text")))
        return view
    rejected = _find(output, rejects, "id", doc_id)
    if rejected is None:
        raise CurateError(f"no record with id {doc_id!r} in {output_uri!r} (neither kept nor in the reject ledger)")
    stage, _, rule = rejected[REJECT].partition(":")
    view.add_row("outcome", "rejected")
    view.add_row("stage", stage)
    view.add_row("rule", rule)
    view.add_row("text", _snippet(rejected["text"]) if "text" in rejected
                 else "(text not kept: run with write_rejects: true)")
    if rejected.get("kept_uid") is not None:
        view.add_row("kept document", rejected["kept_id"])
        winner = _find(output, documents, "uid", rejected["kept_uid"])
        if winner is not None:
            text = _snippet(winner.get("text"))
        else:
            other = _find(output, rejects, "uid", rejected["kept_uid"])
            text = (f"(not in this run's documents: rejected later, {other[REJECT]})" if other is not None else
                    "(kept by an earlier run: see its output)")
            if other is not None and other.get("text") is not None:
                text += " " + _snippet(other["text"])
        view.add_row("kept text", text)
    return view


def _tokenizer(output: Output, manifest: dict):
    from tokenizers import Tokenizer

    info = manifest.get("tokenizer")
    if not info:
        raise CurateError("this run wrote no shards (no tokenize stage): nothing to decode")
    with output.fs.open(output.path(info["file"]), "rb") as f:
        return Tokenizer.from_str(f.read().decode("utf-8"))


def _shard_entry(manifest: dict, shard: str | None) -> dict:
    entries = manifest.get("shards", [])
    if not entries:
        raise CurateError("this run wrote no shards (no tokenize stage)")
    if shard is None:
        return entries[0]
    for entry in entries:
        if shard == entry["path"] or shard.rstrip("/").endswith("/" + entry["path"]) or shard == entry["domain"]:
            return entry
    domains = sorted({e["domain"] for e in entries})
    raise CurateError(f"no shard {shard!r} in the manifest: give a shard path as listed there "
                      f"(e.g. {entries[0]['path']}) or a domain ({', '.join(domains)})")


def inspect_shard(output_uri: str, shard: str | None = None, n: int = 5, decode: bool = True,
                  tokens_shown: int = TOKENS_SHOWN) -> Table:
    """Up to `n` documents of one token shard (a path from the manifest, or the first shard of a domain), with
    their first token ids and, with `decode`, the text those tokens decode to (special tokens shown)."""
    output, manifest = _finished(output_uri)
    entry = _shard_entry(manifest, shard)
    with output.fs.open(output.path(entry["path"]), "rb") as f:
        table = pq.read_table(f).slice(0, n)
    tokenizer = _tokenizer(output, manifest) if decode else None
    eos = manifest["tokenizer"]["eos_id"]
    view = Table(title=f"{entry['path']}: domain {entry['domain']}, {entry['rows']:,} documents, "
                       f"{entry['tokens']:,} tokens ({manifest['tokenizer']['dtype']})",
                 title_justify="left", show_lines=True)
    view.add_column("id", overflow="fold")
    view.add_column("split")
    view.add_column("n_tokens", justify="right")
    view.add_column(f"first {tokens_shown} tokens", overflow="fold", ratio=2)
    if decode:
        view.add_column("decoded", overflow="fold", ratio=3)
    for row in table.to_pylist():
        ids = row["tokens"]
        head = ids[:tokens_shown]
        shown = " ".join(map(str, head)) + (" …" if len(ids) > tokens_shown else "")
        if len(ids) > tokens_shown and ids[-1] == eos:
            shown += f" {eos}(eos)"
        cells = [row["id"], row["split"], f"{row['n_tokens']:,}", shown]
        if tokenizer is not None:
            text = tokenizer.decode(head, skip_special_tokens=False)
            tail = tokenizer.id_to_token(eos) if ids and ids[-1] == eos else ""
            cells.append(_snippet(text, 400) + (f" … {tail}" if len(ids) > tokens_shown and tail else ""))
        view.add_row(*cells)
    return view
