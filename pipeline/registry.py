"""The stage registry: stages register by name so a YAML pipeline can name them."""
from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from curate.pipeline.stage import Stage

_STAGES: dict[str, type[Stage]] = {}



def register(cls: type[Stage]) -> type[Stage]:
    """Class decorator: make a stage available under its `name`."""
    if cls.name in _STAGES and _STAGES[cls.name] is not cls:
        raise ValueError(f"stage name {cls.name!r} registered twice")
    for declaration in ("requires", "adds", "modifies"):
        if not callable(getattr(cls, declaration)):  # the older `requires = (...)` would fail only when a run checks it
            raise TypeError(f"stage {cls.name!r}: {declaration} must be a method")
    _STAGES[cls.name] = cls
    return cls


def _load_builtins() -> None:
    """Import every module of `curate.stages` (and its subpackages): each registers its stages on import."""
    import curate.stages as package

    for module in pkgutil.walk_packages(package.__path__, "curate.stages."):
        importlib.import_module(module.name)


def stages() -> dict[str, type[Stage]]:
    """Every registered stage by name, sorted."""
    _load_builtins()
    return dict(sorted(_STAGES.items()))


def get(name: str) -> type[Stage] | None:
    _load_builtins()
    return _STAGES.get(name)
