"""Lazy public names for packages (PEP 562).

A package lists which module defines each of its public names; the module is imported the
first time the name is read. So ``import recarena.simulators.catalog`` does not import the
whole simulator, ``import recarena`` imports no env code, and the layers
(simulators -> envs -> agents -> scenarios; analysis reads logs only) hold at run time, not
only in the source.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: dict[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose public names live in ``exports``
    (name -> module path, absolute or relative to the package). A name whose module path
    ends in the name itself (``"diversity": ".diversity"``) is that submodule."""

    def __getattr__(name: str) -> Any:
        try:
            where = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        module = importlib.import_module(where, package)
        if where.rpartition(".")[2] == name:
            return module
        return getattr(module, name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
