"""The driver JVM's class-data archive: asked of the first run's JVM, written within that run (the JVM ended and
waited for, with a console line), then mapped by every run; the cache keeps a bounded number."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from curate.engines.spark import class_archive

JAVA = "/usr/bin/java"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(class_archive, "_writing", {})
    return tmp_path / "curate"


def finished_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def fake_jvm(archive: str) -> subprocess.Popen:
    """A process that, like the JVM PySpark starts, runs until its stdin closes, then writes the archive and exits."""
    return subprocess.Popen([sys.executable, "-c", f"import sys, time; sys.stdin.read(); time.sleep(0.3); "
                                                   f"open({archive!r}, 'wb').write(b'x' * 3_000_000)"],
                            stdin=subprocess.PIPE)


def test_the_first_run_writes_the_archive_within_the_run(cache):
    write, *quiet = class_archive.java_options(JAVA).split()
    assert write.startswith("-XX:ArchiveClassesAtExit=") and write.endswith(f".{os.getpid()}.tmp")
    assert quiet == ["-Xlog:cds=off", "-Xlog:cds+dynamic=off"]  # no warning per class it cannot archive
    assert class_archive.writing()
    said: list[str] = []
    jvm = fake_jvm(write.split("=", 1)[1])
    archive = class_archive.finish(jvm, said.append)
    assert jvm.returncode == 0  # ended and waited for: nothing left running after the command returns
    assert archive == cache / f"spark-{class_archive._key(JAVA)}.jsa" and archive.stat().st_size == 3_000_000
    assert said[0].startswith(f"curate: writing Spark's class-data archive to {archive}")
    assert said[1].startswith("curate: class-data archive written (3 MB in ")
    assert not class_archive.writing()
    assert class_archive.java_options(JAVA) == f"-XX:SharedArchiveFile={archive}"  # and every later run maps it


def test_an_interrupted_run_leaves_no_jvm_and_no_partial_archive(cache):
    write = class_archive.java_options(JAVA).split()[0].split("=", 1)[1]
    jvm = fake_jvm(write)
    class_archive.abandon(jvm)
    assert jvm.returncode is not None and not Path(write).exists() and not class_archive.writing()


def test_while_another_run_writes_it_no_second_one(cache):
    cache.mkdir(parents=True)
    final = cache / f"spark-{class_archive._key(JAVA)}.jsa"
    writer = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        final.with_name(f"{final.name}.{writer.pid}.tmp").write_bytes(b"being written")
        assert class_archive.java_options(JAVA) == "" and not class_archive.writing()
    finally:
        writer.stdin.close()
        writer.wait()


def test_abandoned_partial_archives_are_deleted_and_old_archives_evicted(cache):
    cache.mkdir(parents=True)
    abandoned = cache / f"spark-0000000000000000.jsa.{finished_pid()}.tmp"
    abandoned.write_bytes(b"cut short")
    long_ago = time.time() - 3600
    os.utime(abandoned, (long_ago, long_ago))
    olds = []
    for age, key in enumerate(["aaaa", "bbbb", "cccc"]):
        old = cache / f"spark-{key}.jsa"
        old.write_bytes(b"archive")
        os.utime(old, (long_ago - age * 60, long_ago - age * 60))
        olds.append(old)
    class_archive.java_options(JAVA)
    assert not abandoned.exists()
    assert class_archive.evict(cache) == [olds[2]]  # the least recently used beyond KEEP (2)
    assert [p.exists() for p in olds] == [True, True, False]


def test_no_java_or_no_writable_cache_means_no_option(tmp_path, monkeypatch):
    assert class_archive.java_options(None) == ""
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert class_archive.java_options(JAVA) == ""
