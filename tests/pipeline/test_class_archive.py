"""The driver JVM's class-data archive: written by the first run, adopted once finished, then mapped by every run."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from curate.pipeline.spark import class_archive

JAVA = "/usr/bin/java"


def finished_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_first_run_writes_a_pending_archive_then_runs_wait_for_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    write, *quiet = class_archive.java_options(JAVA).split()
    assert write.startswith("-XX:ArchiveClassesAtExit=") and write.endswith(f".{os.getpid()}.tmp")
    assert quiet == ["-Xlog:cds=off", "-Xlog:cds+dynamic=off"]  # no warning per class it cannot archive
    pending = write.split("=", 1)[1]
    open(pending, "wb").close()  # as the JVM writes it at exit
    assert class_archive.java_options(JAVA) == ""  # its writer (this process) is alive: no second archive


def test_a_settled_archive_is_adopted_and_mapped(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    final = tmp_path / "curate" / f"spark-{class_archive._key(JAVA)}.jsa"
    final.parent.mkdir(parents=True)
    young, old = (final.with_name(f"{final.name}.{finished_pid()}.tmp") for _ in range(2))
    old.write_bytes(b"archive")
    os.utime(old, (time.time() - 120, time.time() - 120))
    young.write_bytes(b"still being written")
    assert class_archive.java_options(JAVA) == f"-XX:SharedArchiveFile={final}"
    assert final.read_bytes() == b"archive" and young.exists() and not old.exists()


def test_no_java_or_no_writable_cache_means_no_option(tmp_path, monkeypatch):
    assert class_archive.java_options(None) == ""
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert class_archive.java_options(JAVA) == ""
