"""Secret value formats: the only code that knows JSON, URL syntax and key encodings.

Every codec round-trips exactly: ``parse(text).render() == text``, and a change
touches only the fields it names. Names load on first use, so a function
imports only the codecs its kind reads (cold start).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rotator.codecs.connection import ConnectionSecret, LoginSecret
    from rotator.codecs.json_document import JsonDocument, looks_like_json
    from rotator.codecs.key_encoding import KeyEncoding, detect_key_encoding
    from rotator.codecs.parsed import ParsedSecret
    from rotator.codecs.url import ConnectionUrl

__all__ = [
    "ConnectionSecret",
    "ConnectionUrl",
    "JsonDocument",
    "KeyEncoding",
    "LoginSecret",
    "ParsedSecret",
    "detect_key_encoding",
    "looks_like_json",
]

_MODULES = {
    "ConnectionSecret": "connection",
    "LoginSecret": "connection",
    "JsonDocument": "json_document",
    "looks_like_json": "json_document",
    "KeyEncoding": "key_encoding",
    "detect_key_encoding": "key_encoding",
    "ParsedSecret": "parsed",
    "ConnectionUrl": "url",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(name)
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
