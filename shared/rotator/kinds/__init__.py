"""One module per kind of secret; the module name is the kind's ``KIND`` and its ``functions/`` folder.

This package is the one list of kinds: ``names()`` reads it, ``strategy_class()`` loads one.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rotator.strategy import Strategy

__all__ = ["names", "strategy_class"]


def names() -> tuple[str, ...]:
    """Every kind, from the modules of this package (nothing is imported)."""
    import pkgutil

    return tuple(sorted(module.name for module in pkgutil.iter_modules(__path__) if not module.name.startswith("_")))


def strategy_class(kind: str) -> type[Strategy[Any]]:
    """The Strategy class of ``kind`` (imports its module, and nothing else: no listing at cold start)."""
    module_name = f"{__name__}.{kind}"
    try:
        if not kind.isidentifier() or kind.startswith("_"):
            raise ModuleNotFoundError(name=module_name)
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise ValueError(f"unknown kind {kind!r}: one of {', '.join(names())}") from None
    strategy: type[Strategy[Any]] = module.STRATEGY
    return strategy
