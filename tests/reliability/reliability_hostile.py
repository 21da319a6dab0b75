"""Hostile input for the readers and the extract stage: generators (hypothesis strategies) and the accounting check.

A case is a small spec drawn by hypothesis — record kinds, header/body/container mutations, seeds — built into the
bytes of one input file with a seeded `random.Random`, so hypothesis shrinks on structure and never has to generate
megabytes itself. `check_file` reads the file with the pipeline's own reader, then runs the kept rows through
`extract` (WARC) and `gopher_quality`, and asserts what the pipeline promises for every file, however broken: no
exception escapes, every record the reader saw is one row, every row is kept or carries a reason of its stage, and each
step ends within a time limit, and the file's bytes are all accounted for (read, or skipped with a file error). Used by tests/reliability/test_reliability_hostile.py (a sample) and bench/fuzz.py
(>= 10,000 cases).
"""
from __future__ import annotations

import gzip
import json
import random
import signal
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import zstandard
from hypothesis import strategies as st

from curate.pipeline.chain import BoundStage, StageCounts, split
from curate.pipeline.config import InputConfig, StageSpec
from curate.pipeline.inputs import InputFile
from curate.pipeline.inputs import read
from curate.pipeline.ledger import ReaderLedger
from curate.pipeline.registry import get
from curate.pipeline.stats import ledger_problem

WARC_KINDS = ("html", "binary_html", "nul", "bad_utf8", "mixed", "nested", "huge_line", "not_html", "status",
              "chunked", "gzip_body", "wet")
HEADER_MUTATIONS = ("none", "drop_length", "length_off", "length_negative", "length_text", "length_huge", "bad_type",
                    "bad_version", "binary_value", "lf_only", "no_blank_line", "duplicate", "long_header", "no_id")
BODY_MUTATIONS = ("none", "flip", "truncate", "insert", "nul_run")
CONTAINERS = ("gzip_members", "gzip_whole", "plain")
CONTAINER_MUTATIONS = ("none", "truncate", "corrupt", "append_garbage", "prepend_garbage")
JSONL_KINDS = ("valid", "invalid_json", "not_object", "no_text", "text_not_string", "bad_utf8", "nul", "deep",
               "surrogate", "huge_line", "blank", "extra_fields", "mixed")
JSONL_CONTAINERS = ("plain", "gz", "zst")


class Hang(Exception):
    """A step ran past its time limit."""


@contextmanager
def deadline(seconds: float, what: str):
    """Raise Hang in the main thread when the block runs longer than `seconds` (a hang is a failure, not a wait)."""
    def expire(*_):
        raise Hang(f"{what} ran over {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- pages -----------------------------------------------------------------------------------------------------

_WORDS = ("the river was quiet in the morning and the people of the town walked along it to the market where "
          "bread fish and fruit were sold by families who had worked there for many years").split()


def _prose(rng: random.Random, sentences: int) -> str:
    return " ".join(" ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 18))).capitalize() + "."
                    for _ in range(sentences))


def _html(rng: random.Random, paragraphs: int = 4, charset: str = "utf-8") -> str:
    body = "".join(f"<p>{_prose(rng, rng.randint(2, 5))}</p>\n" for _ in range(paragraphs))
    return (f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>{rng.choice(_WORDS)}</title></head>'
            f"<body><article>{body}</article></body></html>")


def page(kind: str, rng: random.Random) -> tuple[str, str, bytes, dict[str, str]]:
    """(HTTP status line, Content-Type, body, extra HTTP headers) of one response of `kind`."""
    ok, html_type = "HTTP/1.1 200 OK", "text/html; charset=utf-8"
    if kind == "html":
        return ok, html_type, _html(rng).encode(), {}
    if kind == "binary_html":
        magic = rng.choice([b"", b"\x89PNG\r\n\x1a\n", b"%PDF-1.7\n", b"\x1f\x8b\x08", b"PK\x03\x04", b"\x7fELF"])
        return ok, rng.choice(["text/html", html_type, ""]), magic + rng.randbytes(rng.randint(0, 20000)), {}
    if kind == "nul":
        text = bytearray(_html(rng, 12).encode())
        for _ in range(rng.randint(1, 50)):
            text.insert(rng.randrange(len(text)), 0)
        return ok, html_type, bytes(text), {}
    if kind == "bad_utf8":
        text = bytearray(_html(rng, 6).encode())
        for _ in range(rng.randint(1, 40)):
            text[rng.randrange(len(text)):0] = rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
                                                           b"\xe2\x82", b"\xc0\xaf"])
        return ok, html_type, bytes(text), {}
    if kind == "mixed":
        parts = []
        for _ in range(rng.randint(2, 8)):
            codec = rng.choice(["utf-8", "cp1251", "gbk", "shift_jis", "latin-1", "utf-16-le", "koi8-r"])
            sample = rng.choice(["Привет мир, как дела", "中文网页内容测试", "日本語のテキスト", "café crème brûlée",
                                 "plain ascii words"])
            parts.append(f"<p>{sample} {_prose(rng, 1)}</p>".encode(codec, errors="replace"))
        declared = rng.choice(["utf-8", "windows-1252", "gb2312", "euc-jp", "utf-16", "x-bogus-charset"])
        head = f'<html><head><meta charset="{declared}"></head><body>'.encode()
        return ok, f"text/html; charset={rng.choice([declared, 'iso-8859-1', 'utf-8'])}", \
            head + b"".join(parts) + b"</body></html>", {}
    if kind == "nested":
        depth = rng.choice([100, 1000, 10000, 60000])
        tag = rng.choice(["div", "b", "table", "span", "ul"])
        body = f"<{tag}>" * depth + _prose(rng, 3) + f"</{tag}>" * rng.choice([0, depth])
        return ok, html_type, f"<html><body>{body}</body></html>".encode(), {}
    if kind == "huge_line":
        line = _prose(rng, rng.randint(2000, 20000)).replace(". ", ".")  # one line, no newline, 0.2-2 MB
        return ok, html_type, f"<html><body><p>{line}</p></body></html>".encode(), {}
    if kind == "not_html":
        mime = rng.choice(["image/png", "application/pdf", "application/octet-stream", "video/mp4", "text/css"])
        return ok, mime, rng.randbytes(rng.randint(0, 5000)), {}
    if kind == "status":
        line = rng.choice(["HTTP/1.1 404 Not Found", "HTTP/1.1 301 Moved", "HTTP/1.1 ²00 OK", "HTTP/1.1 2000 OK",
                           "HTTP/1.1 " + "9" * 5000, "HTTX/1.1 200 OK", "HTTP/1.1", "", "\x00\x00\x00"])
        return line, html_type, _html(rng).encode(), {}
    if kind == "chunked":
        body = _html(rng).encode()
        chunks, pos = [], 0
        while pos < len(body):
            n = rng.randint(1, 500)
            chunks.append(f"{n:x}\r\n".encode() + body[pos:pos + n] + b"\r\n")
            pos += n
        encoded = b"".join(chunks) + b"0\r\n\r\n"
        if rng.random() < 0.5:
            encoded = encoded.replace(b"\r\n", rng.choice([b"\n", b"\r\nzz\r\n", b""]), rng.randint(1, 3))
        return ok, html_type, encoded, {"Transfer-Encoding": "chunked"}
    if kind == "gzip_body":
        choice = rng.random()
        if choice < 0.1:  # a bomb: 16 MB of zeros that compress to 16 KB (the reader's cap is 64 MB)
            body = gzip.compress(bytes(16 << 20), compresslevel=1)
        else:
            body = gzip.compress(_html(rng).encode())
            if choice < 0.5:
                body = bytearray(body)
                for _ in range(rng.randint(1, 10)):
                    body[rng.randrange(len(body))] = rng.randrange(256)
                body = bytes(body)
        return ok, html_type, body, {"Content-Encoding": rng.choice(["gzip", "x-gzip", "deflate", "br", "gzip"])}
    if kind == "wet":
        return "", "", _prose(rng, 20).encode(), {}
    raise ValueError(kind)


# --- WARC files ------------------------------------------------------------------------------------------------


def _mutate_bytes(data: bytes, mutation: str, rng: random.Random) -> bytes:
    if mutation == "none" or not data:
        return data
    out = bytearray(data)
    if mutation == "flip":
        for _ in range(rng.randint(1, 20)):
            out[rng.randrange(len(out))] = rng.randrange(256)
    elif mutation == "truncate":
        del out[rng.randrange(len(out)):]
    elif mutation == "insert":
        position = rng.randrange(len(out) + 1)
        out[position:position] = rng.randbytes(rng.randint(1, 200))
    elif mutation == "nul_run":
        position = rng.randrange(len(out) + 1)
        out[position:position] = bytes(rng.randint(1, 5000))
    return bytes(out)


def warc_record(kind: str, number: int, header_mutation: str, body_mutation: str, rng: random.Random) -> bytes:
    status, content_type, body, extra = page(kind, rng)
    if kind == "wet":
        block, record_type, block_type = body, "conversion", "text/plain"
    else:
        head = status + "\r\n" + (f"Content-Type: {content_type}\r\n" if content_type else "")
        head += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
        block = head.encode("utf-8", errors="replace") + b"\r\n" + body
        record_type, block_type = "response", "application/http; msgtype=response"
    block = _mutate_bytes(block, body_mutation, rng)
    length = str(len(block))
    headers = [("WARC-Type", record_type), ("WARC-Record-ID", f"<urn:uuid:fuzz-{number:06d}-{rng.getrandbits(32):08x}>"),
               ("WARC-Date", "2024-05-01T12:00:00Z"), ("WARC-Target-URI", f"https://fuzz.example/{number}"),
               ("Content-Type", block_type), ("Content-Length", length)]
    version = "WARC/1.0"
    if header_mutation == "drop_length":
        headers = [h for h in headers if h[0] != "Content-Length"]
    elif header_mutation == "length_off":
        headers[-1] = ("Content-Length", str(max(0, len(block) + rng.choice([-50, -1, 1, 7, 4000]))))
    elif header_mutation == "length_negative":
        headers[-1] = ("Content-Length", f"-{len(block)}")
    elif header_mutation == "length_text":
        headers[-1] = ("Content-Length", rng.choice(["abc", "1e3", " ", "0x10", "½"]))
    elif header_mutation == "length_huge":
        headers[-1] = ("Content-Length", rng.choice(["99999999999", str(1 << 63), "9" * 40]))
    elif header_mutation == "bad_type":
        headers[0] = ("WARC-Type", rng.choice(["", "respons", "RESPONSE", "request", "\x00"]))
    elif header_mutation == "bad_version":
        version = rng.choice(["WARC/9.9", "WARC/", "warc/1.0", "XXXX/1.0", "WARC/0.17"])
    elif header_mutation == "duplicate":
        headers.insert(2, ("Content-Length", str(rng.randint(0, 1 << 20))))
    elif header_mutation == "long_header":
        headers.insert(2, ("X-Long", "x" * rng.choice([10_000, 200_000])))
    elif header_mutation == "no_id":
        headers = [h for h in headers if h[0] != "WARC-Record-ID"]
    text = version + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    raw = text.encode("utf-8", errors="replace")
    if header_mutation == "binary_value":
        raw = raw.replace(b"https://fuzz", rng.choice([b"https://\xff\xfe\x00fuzz", b"https://\xed\xa0\x80fuzz"]))
    separator = b"\r\n"
    if header_mutation == "lf_only":
        raw, separator = raw.replace(b"\r\n", b"\n"), b"\n"
    elif header_mutation == "no_blank_line":
        separator = b""
    return raw + separator + block + b"\r\n\r\n"


@dataclass(frozen=True)
class WarcCase:
    records: tuple[tuple[str, str, str], ...]  # (kind, header mutation, body mutation)
    container: str
    container_mutation: str
    seed: int

    def build(self, directory: Path, name: str = "case") -> Path:
        rng = random.Random(self.seed)
        records = [warc_record(kind, i, header, body, rng) for i, (kind, header, body) in enumerate(self.records)]
        if self.container == "gzip_members":
            data = b"".join(gzip.compress(r, compresslevel=1, mtime=0) for r in records)
        elif self.container == "gzip_whole":
            data = gzip.compress(b"".join(records), compresslevel=1, mtime=0)
        else:
            data = b"".join(records)
        data = _mutate_container(data, self.container_mutation, rng)
        suffix = ".warc" if self.container == "plain" else ".warc.gz"
        path = directory / f"{name}{suffix}"
        path.write_bytes(data)
        return path


def _mutate_container(data: bytes, mutation: str, rng: random.Random) -> bytes:
    if mutation == "truncate" and data:
        return data[:rng.randrange(len(data))]
    if mutation == "corrupt" and data:
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)
    if mutation == "append_garbage":
        return data + rng.randbytes(rng.randint(1, 3000))
    if mutation == "prepend_garbage":
        return rng.randbytes(rng.randint(1, 300)) + data
    return data


def warc_cases() -> st.SearchStrategy[WarcCase]:
    record = st.tuples(st.sampled_from(WARC_KINDS), st.sampled_from(HEADER_MUTATIONS), st.sampled_from(BODY_MUTATIONS))
    return st.builds(WarcCase, st.lists(record, min_size=1, max_size=5).map(tuple), st.sampled_from(CONTAINERS),
                     st.sampled_from(CONTAINER_MUTATIONS), st.integers(0, 2**32 - 1))


# --- JSONL files -----------------------------------------------------------------------------------------------


def jsonl_line(kind: str, rng: random.Random) -> bytes:
    text = _prose(rng, rng.randint(3, 30))
    if kind == "valid":
        return json.dumps({"text": text, "url": f"https://j.example/{rng.getrandbits(16)}"}).encode()
    if kind == "invalid_json":
        return rng.choice([b"{", b'{"text": "unterminated', b"{'text': 'single quotes'}", b"NaNx", b'{"a":1,}',
                           json.dumps({"text": text}).encode()[:-1]])
    if kind == "not_object":
        return rng.choice([b"[1, 2, 3]", b'"just a string"', b"42", b"null", b"true"])
    if kind == "no_text":
        return json.dumps({"body": text}).encode()
    if kind == "text_not_string":
        return json.dumps({"text": rng.choice([None, 7, [text], {"t": text}, True])}).encode()
    if kind == "bad_utf8":
        raw = bytearray(json.dumps({"text": text}, ensure_ascii=False).encode())
        raw[rng.randrange(9, len(raw) - 2):0] = rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe2\x82"])
        return bytes(raw)
    if kind == "nul":
        return rng.choice([json.dumps({"text": text + "\u0000" + text}).encode(),
                           b'{"text": "a\x00b"}', b"\x00" * rng.randint(1, 100)])
    if kind == "deep":
        depth = rng.choice([50, 900, 5000, 200_000])
        inner = rng.choice(["[", '{"a":'])
        close = "]" if inner == "[" else "}"
        nested = inner * depth + "1" + close * depth
        return rng.choice([nested, f'{{"text": "{text}", "meta": {nested}}}']).encode()
    if kind == "surrogate":
        return rng.choice([b'{"text": "bad \\ud800 text"}', b'{"text": "ok", "url": "\\udfff"}',
                           b'{"text": "pair \\ud83d\\ude00 fine"}'])
    if kind == "huge_line":
        return json.dumps({"text": _prose(rng, rng.randint(2000, 10000))}).encode()  # 0.2-1 MB on one line
    if kind == "blank":
        return rng.choice([b"", b"   ", b"\t"])
    if kind == "extra_fields":
        return json.dumps({"text": text, "id": 5, "reject_reason": "x", "lang": ["en"], "meta": {"a": [1, 2]}}).encode()
    if kind == "mixed":
        return json.dumps({"text": text}).encode()[:-2] + " Привет".encode("cp1251") + b'"}'
    raise ValueError(kind)


@dataclass(frozen=True)
class JsonlCase:
    lines: tuple[str, ...]
    container: str
    container_mutation: str
    newline: str
    seed: int

    def build(self, directory: Path, name: str = "case") -> Path:
        rng = random.Random(self.seed)
        data = self.newline.encode().join(jsonl_line(kind, rng) for kind in self.lines)
        if rng.random() < 0.5:
            data += self.newline.encode()
        if self.container == "gz":
            data = gzip.compress(data, compresslevel=1, mtime=0)
        elif self.container == "zst":
            data = zstandard.ZstdCompressor(level=1).compress(data)
        data = _mutate_container(data, self.container_mutation, rng)
        path = directory / f"{name}.jsonl{'' if self.container == 'plain' else '.' + self.container}"
        path.write_bytes(data)
        return path


def jsonl_cases() -> st.SearchStrategy[JsonlCase]:
    return st.builds(JsonlCase, st.lists(st.sampled_from(JSONL_KINDS), min_size=1, max_size=8).map(tuple),
                     st.sampled_from(JSONL_CONTAINERS), st.sampled_from(CONTAINER_MUTATIONS),
                     st.sampled_from(["\n", "\r\n"]), st.integers(0, 2**32 - 1))


# --- the check -------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one hostile file gave: records seen, rows kept at the end, reasons, the reader's file error."""

    seen: int = 0
    kept: int = 0
    reasons: Counter = field(default_factory=Counter)
    file_error: str | None = None
    seconds: float = 0.0


def stages(extract_timeout: float = 5.0) -> dict[str, BoundStage]:
    """The stages a hostile case runs through after the reader (one instance per process: the sandbox starts once)."""
    specs = {"extract": {"timeout": extract_timeout}, "gopher_quality": {}}
    return {name: BoundStage.of(StageSpec(name=name, id=name, params=get(name).Params(**params)))
            for name, params in specs.items()}


def check_file(path: Path, fmt: str, bound: dict[str, BoundStage] | None = None, read_limit: float = 60.0) -> Outcome:
    """Read `path` and run its kept rows through `bound`; assert that every record is accounted for, in time."""
    started = time.monotonic()
    cfg = InputConfig(paths=[str(path)], dataset="fuzz")
    ledger = ReaderLedger(path.name)
    with deadline(read_limit, f"reading {path.name}"):
        batches = list(read(InputFile(str(path), path.name, path.stat().st_size, fmt), cfg, ledger))
    table = pa.Table.from_batches(batches) if batches else None
    rows = table.num_rows if table is not None else 0
    assert rows == ledger.records_seen, f"{ledger.records_seen} records seen but {rows} rows"
    assert ledger_problem(ledger.to_json()) is None, ledger_problem(ledger.to_json())
    outcome = Outcome(seen=ledger.records_seen, file_error=ledger.error)
    if table is None:
        return outcome
    keys = list(zip(table.column("id").to_pylist(), table.column("offset").to_pylist()))
    assert len(set(keys)) == len(keys), "a record became two rows"
    reasons = [r for r in table.column("reject_reason").to_pylist() if r is not None]
    assert all(r.startswith("read:") for r in reasons), reasons
    assert rows - len(reasons) == ledger.records_yielded
    outcome.reasons.update(reasons)
    for batch in batches:
        kept, _ = split(batch)
        for name, stage in (bound or {}).items():
            if kept.num_rows == 0 or (name == "extract" and fmt != "warc"):
                continue
            limit = 60.0 + (stage.stage.params.timeout + 1) * kept.num_rows if name == "extract" else 120.0
            with deadline(limit, f"{name} on {path.name}"):
                out = stage.run(kept, StageCounts(name))
            assert out.num_rows == kept.num_rows
            stage_reasons = out.column("reject_reason").to_pylist()
            assert all(r is None or r.startswith(f"{name}:") for r in stage_reasons), stage_reasons
            if "text" in out.schema.names:
                texts = out.column("text").to_pylist()
                assert all(t is not None for t, r in zip(texts, stage_reasons) if r is None), "kept without text"
            outcome.reasons.update(r for r in stage_reasons if r is not None)
            kept, _ = split(out)
        outcome.kept += kept.num_rows
    assert outcome.kept + sum(outcome.reasons.values()) == outcome.seen
    outcome.seconds = time.monotonic() - started
    return outcome
