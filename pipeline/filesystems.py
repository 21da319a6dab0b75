"""Filesystems for inputs and outputs: local paths, http(s):// (fsspec), s3:// and gs:// (pyarrow's own clients).

pyarrow ships S3 and GCS clients, so object stores need no extra package; credentials come from the usual
environment (AWS_* variables, ~/.aws, GOOGLE_APPLICATION_CREDENTIALS). Common Crawl is also served over
https://data.commoncrawl.org/, which needs no credentials.
"""
from __future__ import annotations

import fsspec
from fsspec.core import url_to_fs
from fsspec.implementations.arrow import ArrowFSWrapper

from curate.pipeline.errors import CurateError

_ARROW_SCHEMES = {"s3": "s3", "s3a": "s3", "gs": "gs", "gcs": "gs"}


def scheme_of(spec: str) -> str:
    return spec.split("://", 1)[0].lower() if "://" in spec else ""


def filesystem(spec: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem of a path or URI, and the path within it."""
    scheme = scheme_of(spec)
    try:
        if scheme in _ARROW_SCHEMES:
            from pyarrow import fs as arrow_fs

            fs, path = arrow_fs.FileSystem.from_uri(_ARROW_SCHEMES[scheme] + spec[len(scheme):])
            return ArrowFSWrapper(fs), path
        return url_to_fs(spec)
    except (ImportError, ValueError, OSError) as error:
        raise CurateError(f"cannot open {spec!r}: {error}") from None


def uri(spec_scheme: str, path: str) -> str:
    """A path found in a filesystem, as a URI `filesystem` opens again."""
    if "://" in path or not spec_scheme or spec_scheme == "file":
        return path
    return f"{spec_scheme}://{path}"


def open_binary(location: str):
    """A readable binary stream (no decompression) of a local path or URI."""
    fs, path = filesystem(location)
    return fs.open(path, "rb")
