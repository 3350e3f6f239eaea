"""One package per kind of secret; the package name is the kind's ``KIND`` and its ``functions/`` folder.

This package is the one list of kinds: ``names()`` reads it, ``kind_class()`` loads one. A kind's ``kind``
module exports ``KIND_CLASS``, its ``rotator.core.strategy.Kind``; the package itself imports nothing, so an
application can use a kind's helper (``rotator.kinds.signing_key.keyring``) without the rotation engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rotator.core.strategy import Kind

__all__ = ["kind_class", "names"]


def names() -> tuple[str, ...]:
    """Every kind, from the packages of this package (nothing is imported)."""
    import pkgutil

    return tuple(
        sorted(
            module.name for module in pkgutil.iter_modules(__path__) if module.ispkg and not module.name.startswith("_")
        )
    )


def kind_class(kind: str) -> type[Kind[Any]]:
    """The Kind class of ``kind`` (imports its ``kind`` module, and nothing else: no listing at cold start)."""
    package = f"{__name__}.{kind}"
    try:
        if not kind.isidentifier() or kind.startswith("_"):
            raise ModuleNotFoundError(name=package)
        module = importlib.import_module(f"{package}.kind")
    except ModuleNotFoundError as exc:
        if exc.name not in (package, f"{package}.kind"):
            raise
        raise ValueError(f"unknown kind {kind!r}: one of {', '.join(names())}") from None
    found: type[Kind[Any]] = module.KIND_CLASS
    return found
