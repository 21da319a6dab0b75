"""A class-data archive of Spark's classes for the driver JVM (AppCDS), kept in the user's cache folder.

A JVM spends most of its start loading and verifying classes from jars; Spark's driver loads ~10,000 of them. Java can
write the classes it loaded to an archive when it exits (`-XX:ArchiveClassesAtExit`) and map that archive at the next
start (`-XX:SharedArchiveFile`): on a 2-core machine a SparkSession then starts in 4.8 s instead of 10.1 s. The first
run of an installation asks its JVM to write the archive (as `<archive>.<pid>.tmp`); at the end of that run `finish`
stops the JVM, waits while it writes (~180 MB, tens of seconds, said on the console), and publishes it under its
final name. The archive is keyed by the Java, Python and PySpark installations it was made from; the cache keeps the
`KEEP` most recently used ones and deletes older ones and abandoned partial ones.
"""
from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

KEEP = 2  # archives kept (one per installation): a venv and its successor, not every venv ever made
_ABANDONED_SECONDS = 600  # a temporary archive this old, of a process that is gone, will not be finished
_writing: dict[str, Path] = {}  # the temporary archive this process's JVM was asked to write, by final path


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
    """The JVM option that maps the archive, or writes it when none exists yet; empty while another run is writing
    it, or when the cache folder is not writable."""
    if not java:
        return ""
    cache = _cache()
    archive = cache / f"spark-{_key(java)}.jsa"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        pending = []
        for candidate in cache.glob("spark-*.jsa.*.tmp"):
            pid = int(candidate.name.split(".")[-2])
            if _alive(pid) or time.time() - candidate.stat().st_mtime < _ABANDONED_SECONDS:
                pending.append(candidate)
            else:
                candidate.unlink()
        if archive.is_file():
            os.utime(archive)  # used: the eviction keeps the recently used
            return f"-XX:SharedArchiveFile={archive}"
    except (OSError, ValueError):
        return ""
    if any(p.name.startswith(archive.name + ".") for p in pending):
        return ""  # another run is writing it
    temporary = archive.with_name(f"{archive.name}.{os.getpid()}.tmp")
    _writing[str(archive)] = temporary
    # writing it, the JVM warns about every class it cannot archive (hundreds of lines): those warnings are silenced
    return f"-XX:ArchiveClassesAtExit={temporary} -Xlog:cds=off -Xlog:cds+dynamic=off"


def writing() -> bool:
    """Whether this process's JVM was asked to write the archive when it exits."""
    return bool(_writing)


def finish(jvm, say=lambda line: print(line, file=sys.stderr)) -> Path | None:
    """After the last job of a JVM asked to write the archive: end the JVM (its stdin closes, as when Python exits),
    wait while it writes, publish the archive and evict old ones. `jvm` is the JVM's Popen. None if nothing to do."""
    if not _writing:
        return None
    archive_name, temporary = _writing.popitem()
    archive = Path(archive_name)
    say(f"curate: writing Spark's class-data archive to {archive} (once per installation; later runs start faster)")
    started = time.time()
    if jvm.stdin is not None:
        jvm.stdin.close()
    try:
        jvm.wait()
    except KeyboardInterrupt:  # not worth the wait to the user: no archive, and no JVM left writing one
        _writing[archive_name] = temporary
        abandon(jvm)
        raise
    if not temporary.is_file() or temporary.stat().st_size == 0:
        temporary.unlink(missing_ok=True)
        return None
    os.replace(temporary, archive)
    say(f"curate: class-data archive written ({archive.stat().st_size / 1e6:.0f} MB in {time.time() - started:.0f} s)")
    evict(archive.parent)
    return archive


def abandon(jvm) -> None:
    """After an interrupted run: end the JVM without its archive (a later run writes one)."""
    _, temporary = _writing.popitem()
    jvm.kill()
    jvm.wait()
    temporary.unlink(missing_ok=True)


def evict(cache: Path, keep: int = KEEP) -> list[Path]:
    """Delete all but the `keep` most recently used archives; returns the deleted ones."""
    archives = sorted(cache.glob("spark-*.jsa"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in archives[keep:]:
        old.unlink(missing_ok=True)
    return archives[keep:]
