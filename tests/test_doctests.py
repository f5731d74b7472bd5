"""Run every ``>>>`` example in recarena's docstrings (the env spec sheets included).

Modules are imported by their installed names (``recarena.envs.slate``), not as files of
the checkout, which would load the flat layout's folders a second time under other names.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import recarena


def _modules() -> list[str]:
    names = ["recarena"]
    for info in pkgutil.walk_packages(recarena.__path__, "recarena."):
        names.append(info.name)
    for sub in ("simulators", "envs", "agents", "scenarios", "analysis"):
        pkg = importlib.import_module(f"recarena.{sub}")
        names.append(pkg.__name__)
        names += [i.name for i in pkgutil.walk_packages(pkg.__path__, f"{pkg.__name__}.")]
    return sorted(set(names))


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest failure(s) in {name}"
