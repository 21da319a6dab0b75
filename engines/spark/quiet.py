"""The driver JVM's stderr, passed on to the user's without the JVM's start-up noise.

The JVM that PySpark starts inherits this process's stderr and prints lines nobody can act on before any logging
configuration applies (`WARNING: Using incubator modules: jdk.incubator.vector`, from the module options Spark's
launcher adds), and Spark's shell tip about log levels (for SparkR), printed because PySpark starts the driver as a
shell, whatever the log4j configuration says. The JVM is started with its stderr on a pipe instead; a thread copies every other line through.
"""
from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager

_NOISE = ("WARNING: Using incubator modules:", 'Setting default log level to "', "To adjust logging level use sc.setLogLevel(")


def _copy(read_fd: int, target: int) -> None:
    with os.fdopen(read_fd, "rb") as source:
        for line in source:
            if not line.decode("utf-8", "replace").startswith(_NOISE):
                os.write(target, line)
    os.close(target)


@contextmanager
def child_stderr():
    """Within: child processes started get a filtered stderr; this process's own stderr is back as it was after."""
    try:
        target = os.dup(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # no real stderr (an embedding host): nothing to filter
        yield
        return
    read_fd, write_fd = os.pipe()
    sys.stderr.flush()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(target, 2)  # the pipe's write end now lives on only in the children
        threading.Thread(target=_copy, args=(read_fd, target), name="jvm-stderr", daemon=True).start()
