"""URL rules on Arrow arrays: hosts and URL prefixes as sorted 64-bit hashes, UT1 list folders, FineWeb's banned words.

- Hosts, of URLs and of list entries alike, as browsers see them: a URL is read as the WHATWG URL standard reads
  an address (a backslash ends the host, `www.x.com/p` and `//x.com/p` have hosts), and a host is mapped by UTS #46
  with IDNA 2008, non-transitional (`host_key`: `straße.de` is `xn--strae-oqa.de`, not `strasse.de`).
- Host lists: a listed host matches itself and every subdomain, never a look-alike (`example.com` matches
  `example.com` and `a.b.example.com`, not `notexample.com`). A host is kept as a 64-bit hash of its lower-cased
  name (a leading `*.` or `.` dropped) beside a uint16 list number, sorted: 10 bytes a host, so a list of a million
  domains takes 10 MB and one `searchsorted` per batch. The hash is Python's own string hash (SipHash, 64 bits,
  seeded per process: the index is built and used in the same worker process, never stored). Two different hosts
  share a hash with probability ~2^-64 per pair; a false match needs such a pair between a URL and a list (about
  1e6 / 2^64 = 5e-14 per lookup).
- URL lists (UT1's `urls` files, squidGuard's urllist semantics): an entry `host/path` matches that URL and every URL
  below it, compared at `/` boundaries, the scheme, a leading `www.`, the port, query and fragment ignored.
- UT1 (Université Toulouse 1 Capitole's blacklists, https://dsi.ut-capitole.fr/blacklists/): a folder with one
  folder per category, each holding a `domains` and/or a `urls` file of one entry per line.
- FineWeb's URL rule (Penedo et al. 2024, "The FineWeb Datasets"; as datatrove's `URLFilter` documents and runs
  it): the URL, lower-cased and split on every run of characters that are not ASCII letters or digits, is rejected
  when one of its words is a banned word, when at least `soft_word_threshold` (datatrove's default: 2) distinct
  soft-banned words occur among its words, or when a banned subword occurs in the URL with every non-alphanumeric
  character removed.
"""
from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import unquote

import idna
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# A URL's host and path, as a browser's address bar reads them (WHATWG URL: `\` is a `/` in http URLs, so
# `http://evil.example\@good.example/` is on evil.example). With a scheme or `//`: [scheme:]//[userinfo@]host[:port]
# [/path]; without (`www.x.com/p`), a host needs a dot and no space, and nothing but a port, a path, a query or a
# fragment may follow it (`not a url`, `mailto:a@b.c` and `tel:` have none). RE2 (Arrow) and Python read both alike.
_URL = (r"^(?:[A-Za-z][A-Za-z0-9+.\-]*:)?//(?:[^@/\\?#]*@)?(?P<host>\[[^\]]*\]|[^:/\\?#]*)(?::\d*)?"
        r"(?P<path>[/\\][^?#]*)?")
_BARE_URL = (r"^(?:[^@/\\?#\s:]*@)?(?P<host>[^\s:/\\?#@\[\]]+\.[^\s:/\\?#@\[\]]+)(?::\d*)?"
             r"(?P<path>[/\\][^?#]*)?(?:[?#]|$)")
_URL_RE, _BARE_URL_RE = re.compile(_URL, re.ASCII), re.compile(_BARE_URL, re.ASCII)
NO_LIST = -1


def host_key(entry: str) -> str:
    """A list entry or URL host as browsers compare it (UTS #46, IDNA 2008 non-transitional, as the WHATWG URL
    standard maps hosts): percent-decoded, case and width folded, `straße.de` -> `xn--strae-oqa.de` (not
    `strasse.de`, IDNA 2003's answer); a leading `*.` and leading or trailing dots dropped."""
    host = entry.strip()
    if "%" in host:
        host = unquote(host)
    host = host.removeprefix("*.")
    if host.isascii():
        return host.lower().strip(".")
    try:
        mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
    except idna.IDNAError:
        return host.lower().strip(".")  # a code point UTS #46 disallows: no browser reaches it; compared as written
    # each label punycoded as it is (browsers do not refuse what IDNA 2008 alone disallows, such as emoji)
    return ".".join(label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
                    for label in mapped.split(".")).strip(".")


def host_of(url: str | None) -> str:
    """The host of one URL as `host_key` compares it; "" when it has none (`split_urls` for a batch)."""
    url = _clean(url or "")
    found = _URL_RE.match(url) or _BARE_URL_RE.match(url)
    return host_key(found.group("host")) if found else ""


def _clean(url: str) -> str:
    """As browsers take a URL: without surrounding spaces and without tabs and newlines anywhere."""
    return url.strip().replace("\t", "").replace("\n", "").replace("\r", "")


def url_key(entry: str) -> str:
    """A URL-list entry as it is compared: `host/path` without scheme, `www.`, port or trailing slash."""
    entry = _clean(entry).replace("\\", "/")
    entry = entry.split("://", 1)[1] if "://" in entry else entry.removeprefix("//")
    host, _, path = entry.partition("/")
    return join_url_key(host_key(host.split("@")[-1].split(":")[0]), path)


def join_url_key(host: str, path: str) -> str:
    """`host/path` as URL-list entries are compared: no `www.`, no query, fragment or trailing slash."""
    path = path.replace("\\", "/").split("?")[0].split("#")[0].strip("/")
    host = host.removeprefix("www.")
    return f"{host}/{path}" if path else host


class ListFileError(ValueError):
    """A list file that is not a list of entries: not a regular file, binary, or not UTF-8."""


def read_entries(path: str | os.PathLike) -> Iterator[str]:
    """The entries of a list file: one a line; blank lines and `#` comments skipped. A file that is not a regular
    file (a FIFO would block the worker), holds a NUL byte (binary) or is not UTF-8 is refused, naming the line:
    read with replacement characters, it would be a list of junk that matches nothing, silently."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise ListFileError(f"{os.fspath(path)!r} is not a regular file (a FIFO, a device or a socket): "
                            "give a list file")
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if b"\0" in raw:
                raise ListFileError(f"{os.fspath(path)!r} line {number} holds a NUL byte: a binary file, not a list")
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                raise ListFileError(f"{os.fspath(path)!r} line {number} is not UTF-8 (byte {raw[error.start]:#04x} "
                                    f"at column {error.start + 1}): convert the file to UTF-8") from None
            entry = line.split("#", 1)[0].strip()
            if entry:
                yield entry


class HashIndex:
    """Keys -> the number of the first list that names them, as sorted hashes (see the module docstring)."""

    def __init__(self, keys: Iterable[tuple[str, int]]):
        pairs = np.fromiter(((hash(key), number) for key, number in keys), dtype=[("h", "<i8"), ("n", "<u2")])
        order = np.lexsort((pairs["n"], pairs["h"]))  # by hash, then list number: the first list wins on a tie
        self.hashes = np.ascontiguousarray(pairs["h"][order])
        self.lists = np.ascontiguousarray(pairs["n"][order])

    def __len__(self) -> int:
        return len(self.hashes)

    @property
    def nbytes(self) -> int:
        return self.hashes.nbytes + self.lists.nbytes

    def find(self, keys: list[str]) -> np.ndarray:
        """The list number of each key (NO_LIST when unlisted)."""
        out = np.full(len(keys), NO_LIST, np.int32)
        if not len(self.hashes) or not keys:
            return out
        hashes = np.fromiter(map(hash, keys), np.int64, len(keys))
        at = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        found = self.hashes[at] == hashes
        out[found] = self.lists[at[found]]
        return out


def suffixes(host: str) -> list[str]:
    """`a.b.example.com` -> [a.b.example.com, b.example.com, example.com, com]: the most specific first."""
    if not host:
        return []
    out, dot = [host], host.find(".")
    while dot >= 0:
        out.append(host[dot + 1:])
        dot = host.find(".", dot + 1)
    return out


def path_prefixes(key: str) -> list[str]:
    """`host/a/b` -> [host/a/b, host/a, host]: the longest first."""
    out = [key]
    while "/" in key:
        key = key.rsplit("/", 1)[0]
        out.append(key)
    return out


def first_match(index: HashIndex, candidates: list[list[str]]) -> np.ndarray:
    """Per row, the list number of its first listed candidate (NO_LIST when none): one lookup for the batch."""
    out = np.full(len(candidates), NO_LIST, np.int32)
    flat = [c for row in candidates for c in row]
    if not flat or not len(index):
        return out
    rows = np.repeat(np.arange(len(candidates)), [len(row) for row in candidates])
    numbers = index.find(flat)
    hit = np.flatnonzero(numbers != NO_LIST)
    first_rows, first = np.unique(rows[hit], return_index=True)  # hits are in row order, each row's best first
    out[first_rows] = numbers[hit[first]]
    return out


def split_urls(urls: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(hosts as written, paths) per URL, read as `host_of` reads one (`host_key` each distinct host); "" for a null
    URL or one without a host."""
    cleaned = pc.replace_substring_regex(pc.utf8_trim_whitespace(pc.fill_null(urls, "")), r"[\t\n\r]", "")
    full, bare = pc.extract_regex(cleaned, _URL), pc.extract_regex(cleaned, _BARE_URL)
    return (pc.fill_null(pc.coalesce(pc.struct_field(full, [0]), pc.struct_field(bare, [0])), ""),
            pc.fill_null(pc.coalesce(pc.struct_field(full, [1]), pc.struct_field(bare, [1])), ""))


class Ut1Lists:
    """A UT1-layout folder: category names and the (key, category number) entries of their domains and urls files."""

    def __init__(self, root: str, categories: list[str] | None = None):
        folder = Path(root)
        # `exists`, not `is_file`: a domains file that is a FIFO is refused when read, not taken for an absent one
        present = sorted(p.name for p in folder.iterdir() if p.is_dir() and
                         ((p / "domains").exists() or (p / "urls").exists()))
        missing = [c for c in categories or [] if c not in present]
        if missing:
            raise FileNotFoundError(f"{root}: no category {', '.join(missing)} (with a domains or urls file); "
                                    f"present: {', '.join(present) or 'none'}")
        self.root = folder
        self.categories = list(categories) if categories else present

    def domains(self, first: int) -> Iterator[tuple[str, int]]:
        for number, category in enumerate(self.categories, first):
            file = self.root / category / "domains"
            if file.exists():
                yield from ((host_key(e), number) for e in read_entries(file))

    def urls(self, first: int) -> Iterator[tuple[str, int]]:
        for number, category in enumerate(self.categories, first):
            file = self.root / category / "urls"
            if file.exists():
                yield from ((url_key(e), number) for e in read_entries(file))


def _words(urls: pa.Array) -> pa.ListArray:
    return pc.split_pattern_regex(pc.utf8_lower(pc.fill_null(urls, "")), r"[^a-z0-9]+")


def any_word_in(urls: pa.Array, words: set[str]) -> np.ndarray:
    """Per URL: does one of its words (FineWeb's split) belong to `words`?"""
    if not words:
        return np.zeros(len(urls), bool)
    split = _words(urls)
    hit = pc.is_in(pc.list_flatten(split), value_set=pa.array(sorted(words), pa.string()))
    parents = pc.list_parent_indices(split).to_numpy()
    out = np.zeros(len(urls), bool)
    out[parents[hit.to_numpy(zero_copy_only=False)]] = True
    return out


def distinct_words_in(urls: pa.Array, words: set[str]) -> np.ndarray:
    """Per URL: how many distinct words of `words` are among its words."""
    out = np.zeros(len(urls), np.int64)
    if not words:
        return out
    split = _words(urls)
    flat = pc.list_flatten(split)
    hit = pc.is_in(flat, value_set=pa.array(sorted(words), pa.string())).to_numpy(zero_copy_only=False)
    if not hit.any():
        return out
    pairs = pa.table({"row": pc.list_parent_indices(split).filter(hit), "word": flat.filter(hit)})
    rows = pairs.group_by(["row", "word"]).aggregate([]).column("row").to_numpy()
    np.add.at(out, rows, 1)
    return out


def contains_any(values: pa.Array, needles: list[str]) -> np.ndarray:
    """Per value: does it contain one of `needles` (case-insensitive)? One RE2 alternation over the batch."""
    if not needles:
        return np.zeros(len(values), bool)
    pattern = "|".join(_re2_escape(n.lower()) for n in needles)
    return pc.fill_null(pc.match_substring_regex(pc.utf8_lower(pc.fill_null(values, "")), pattern),
                        False).to_numpy(zero_copy_only=False)


def alphanumeric(urls: pa.Array) -> pa.Array:
    """URLs lower-cased with every character that is not an ASCII letter or digit removed (FineWeb's subwords)."""
    return pc.replace_substring_regex(pc.utf8_lower(pc.fill_null(urls, "")), r"[^a-z0-9]+", "")


def _re2_escape(text: str) -> str:
    return "".join(f"\\{c}" if not c.isalnum() and c != "_" and ord(c) < 128 else c for c in text)
