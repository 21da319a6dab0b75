"""A class-data archive of Spark's classes for the driver JVM (AppCDS), kept in the user's cache folder.

A JVM spends most of its start loading and verifying classes from jars; Spark's driver loads ~10,000 of them. Java can
write the classes it loaded to an archive when it exits (`-XX:ArchiveClassesAtExit`) and map that archive at the next
start (`-XX:SharedArchiveFile`): on a 2-core machine a SparkSession then starts in 4.8 s instead of 10.1 s. The first
run on a machine writes the archive under a name of its own (`<archive>.<pid>.tmp`; the JVM writes it as it exits,
after the run); a later run adopts a finished one (its writer gone and the file a minute old) under the final name.
The archive is keyed by the Java, Python and PySpark installations it was made from; a JVM that finds it unusable
says so in one warning and starts without it.
"""
from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

_SETTLED_SECONDS = 60  # a temporary archive this old, from a process that is gone, is complete


def _cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "curate"


def _key(java: str) -> str:
    import pyspark

    made_from = "|".join([java, os.path.realpath(java), sys.version, pyspark.__version__, pyspark.__file__])
    return hashlib.sha256(made_from.encode()).hexdigest()[:16]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def java_options(java: str | None) -> str:
    """The JVM option that maps the archive, or writes it when no run has yet; empty while another run's archive is
    being written, or when the cache folder is not writable."""
    if not java:
        return ""
    cache = _cache()
    archive = cache / f"spark-{_key(java)}.jsa"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        pending = sorted(cache.glob(f"{archive.name}.*.tmp"))
        for candidate in pending:
            settled = not _alive(int(candidate.name.split(".")[-2])) and \
                time.time() - candidate.stat().st_mtime > _SETTLED_SECONDS
            if settled and not archive.is_file():
                os.replace(candidate, archive)
            elif settled:
                candidate.unlink()
    except (OSError, ValueError):
        return ""
    if archive.is_file():
        return f"-XX:SharedArchiveFile={archive}"
    if pending:
        return ""  # another run's archive is still being written
    # writing it, the JVM warns about every class it cannot archive (hundreds of lines): those warnings are silenced
    return f"-XX:ArchiveClassesAtExit={archive}.{os.getpid()}.tmp -Xlog:cds=off -Xlog:cds+dynamic=off"
