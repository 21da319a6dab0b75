"""The registries of what the framework runs by name: stages (a YAML pipeline names them), input readers and their
splitters (by the format of an input file). Built-in ones register when their package is loaded (`curate.stages`,
`curate.readers`: this module is the one place the framework imports them, by package); a plugin's register when it
is imported."""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from curate.pipeline.config import InputConfig
    from curate.pipeline.inputs import InputFile
    from curate.pipeline.ledger import ReaderLedger
    from curate.pipeline.stage import Stage

    from curate.pipeline.inputs import Range

    Reader = Callable[[InputFile, InputConfig, ReaderLedger], Iterator[pa.RecordBatch]]
    Splitter = Callable[[InputFile, int], list[Range]]

_STAGES: dict[str, type[Stage]] = {}
_READERS: dict[str, Reader] = {}
_SPLITTERS: dict[str, Splitter] = {}


def register(cls: type[Stage]) -> type[Stage]:
    """Class decorator: make a stage available under its `name`."""
    if cls.name in _STAGES and _STAGES[cls.name] is not cls:
        raise ValueError(f"stage name {cls.name!r} registered twice")
    for declaration in ("requires", "adds", "modifies"):
        if not callable(getattr(cls, declaration)):  # the older `requires = (...)` would fail only when a run checks it
            raise TypeError(f"stage {cls.name!r}: {declaration} must be a method")
    _STAGES[cls.name] = cls
    return cls


def reads(*formats: str) -> Callable[[Reader], Reader]:
    """Function decorator: the reader of input files of `formats` (`curate.pipeline.inputs` names the formats): it
    yields a file's records as batches in the core schema and reports to the file's ledger."""
    def registered(reader: Reader) -> Reader:
        for fmt in formats:
            _READERS[fmt] = reader
        return reader

    return registered


def splits(*formats: str) -> Callable[[Splitter], Splitter]:
    """Function decorator: the splitter of input files of `formats`: it cuts a file into ranges of about a given
    number of stored bytes, each of which the format's reader reads alone (`input.split_size`)."""
    def registered(splitter: Splitter) -> Splitter:
        for fmt in formats:
            _SPLITTERS[fmt] = splitter
        return splitter

    return registered


def _load(package) -> None:
    """Import every module of a built-in package (and its subpackages): each registers what it defines on import."""
    for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        importlib.import_module(module.name)


def stages() -> dict[str, type[Stage]]:
    """Every registered stage by name, sorted."""
    import curate.stages

    _load(curate.stages)
    return dict(sorted(_STAGES.items()))


def get(name: str) -> type[Stage] | None:
    stages()
    return _STAGES.get(name)


def reader(fmt: str) -> Reader:
    """The reader of input files of format `fmt`."""
    if fmt not in _READERS:
        import curate.readers

        _load(curate.readers)
    return _READERS[fmt]


def splitter(fmt: str) -> Splitter | None:
    """The splitter of input files of format `fmt`; None when its files are read whole."""
    reader(fmt)  # loads the package that registers both
    return _SPLITTERS.get(fmt)
