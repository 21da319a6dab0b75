"""Errors a user can act on: the CLI prints each as one line (a config error: one line per problem) and exits with
its status (2, or 1 for a failed run)."""
from __future__ import annotations

import re


class CurateError(Exception):
    """A problem with the user's config, input or environment, told in one line that says what to do."""

    status = 2  # the exit status of the `curate` command it ends


class ConfigError(CurateError):
    """The pipeline YAML (or a command-line override) is invalid: one line per problem, each naming its key path."""


class RunFailed(CurateError):
    """A run that started and stopped on its data or its engine: a row that raised under `on_error: fail`, a failed
    job, accounting that does not add up. Not the user's config: exit status 1."""

    status = 1


# How a curate error raised on a worker reads in the engine's error: its class path, then its message.
_WORKER_ERROR = re.compile(r"^curate\.pipeline\.errors\.(\w+): ")


def job_failed(what: str, line: str, detail: str = "", raised: BaseException | None = None) -> CurateError:
    """The error for a failed engine job, from the last line of the engine's error. A curate error a worker raised
    (a model missing on that machine) stays a config or environment error; anything else the job met (bad data under
    `on_error: fail`, a crashed worker) is a failed run. `raised`: the error itself, where the job ran in this
    process (its type says which, not its text)."""
    found = _WORKER_ERROR.match(line)
    message = f"{what}: {line[found.end():] if found else line}{detail}"
    if isinstance(raised, CurateError):
        return RunFailed(message) if isinstance(raised, RunFailed) else CurateError(message)
    return CurateError(message) if found and found.group(1) != RunFailed.__name__ else RunFailed(message)
