"""One module per kind of secret; the module name is the kind's ``KIND`` and its ``functions/`` folder.

This package is the one list of kinds: ``names()`` reads it, ``strategy_class()`` loads one.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rotator.strategy import Strategy

__all__ = ["names", "strategy_class"]


def names() -> tuple[str, ...]:
    """Every kind, from the modules of this package (nothing is imported)."""
    return tuple(sorted(module.name for module in pkgutil.iter_modules(__path__) if not module.name.startswith("_")))


def strategy_class(kind: str) -> type[Strategy[Any]]:
    """The Strategy class of ``kind`` (imports its module)."""
    if kind not in names():
        raise ValueError(f"unknown kind {kind!r}: one of {', '.join(names())}")
    strategy: type[Strategy[Any]] = importlib.import_module(f"{__name__}.{kind}").STRATEGY
    return strategy
