"""JSON object secrets that keep every byte a rotation does not change.

The document keeps its original text; ``replace`` splices only the changed
top-level values (and appends new keys) in the layout the document uses, so
numbers stay exactly as written (``1e3``, ``1.50``, 24-digit decimals), as do
key order, spacing and escapes. Parsing refuses what a rotation cannot handle
safely, each with a typed error that never quotes the text: duplicate keys,
non-standard constants, numbers too long to read, nesting too deep to read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rotator.errors import SecretFormatError

__all__ = ["JsonDocument", "looks_like_json"]

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SURROGATE = re.compile("[\ud800-\udfff]")


def looks_like_json(text: str) -> bool:
    """True when the value is meant as JSON (first non-blank is ``{`` or ``[``; only objects are accepted)."""
    return text.lstrip().startswith(("{", "["))


def _reject_constant(name: str) -> Any:
    raise SecretFormatError(f"JSON secret contains the non-standard constant {name}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # The key itself is not named: a secret value can be an object key.
            raise SecretFormatError("JSON secret repeats a key in one object")
        result[key] = value
    return result


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # longer than Python reads (sys.get_int_max_str_digits)
        raise SecretFormatError("JSON secret holds a number too long to read") from None


# Floats as exact decimals: 1e400 stays finite, 1.50 keeps its digits (the text is kept anyway).
_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_keys, parse_float=Decimal, parse_int=_integer, parse_constant=_reject_constant
)


@dataclass(frozen=True)
class _Layout:
    """How the top-level object is written: enough to write a new value like its neighbours."""

    indent: str | None  # one level of indentation, None for a single-line document
    item_separator: str  # between a value and the next key (",\n  ", ", " or ",")
    key_separator: str  # between a key and its value (": " or ":")
    ensure_ascii: bool


@dataclass(frozen=True)
class JsonDocument:
    """A parsed JSON object plus its original text and the span of each top-level value."""

    fields: dict[str, Any] = field(repr=False)
    _text: str = field(repr=False)
    _spans: dict[str, tuple[int, int]] = field(repr=False)
    _close: int = field(repr=False)  # index of the object's closing brace
    _layout: _Layout = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> JsonDocument:
        """Parse a JSON object; refuses arrays, scalars, duplicate keys, NaN and unreadable numbers or nesting."""
        try:
            value = _DECODER.decode(text)
        except json.JSONDecodeError as exc:
            # The position is safe to report; the document text is not.
            raise SecretFormatError(f"secret is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
        except RecursionError:
            raise SecretFormatError("JSON secret is nested too deeply to read") from None
        if not isinstance(value, dict):
            raise SecretFormatError("JSON secret must be an object")
        spans, close = _top_level_spans(text)
        return cls(value, text, spans, close, _detect_layout(text, spans))

    def get_str(self, key: str, *, required: bool = True) -> str | None:
        """A string field, or a typed error naming the field."""
        value = self.fields.get(key)
        if value is None:
            if required:
                raise SecretFormatError(f"JSON secret lacks the field {key!r}")
            return None
        if not isinstance(value, str):
            raise SecretFormatError(f"JSON secret field {key!r} must be a string")
        if _SURROGATE.search(value):
            raise SecretFormatError(f"JSON secret field {key!r} holds an unpaired surrogate escape")
        return value

    def require_str(self, key: str) -> str:
        """A string field that must be present (a typed error naming the field otherwise)."""
        value = self.get_str(key)
        if value is None:  # get_str already refused a missing field; this keeps the type exact
            raise SecretFormatError(f"JSON secret lacks the field {key!r}")
        return value

    def replace(self, **changes: Any) -> JsonDocument:
        """A copy with some fields set; every other byte of the text is kept."""
        if not changes:
            return self
        text = self._text
        pieces: list[tuple[int, int, str]] = []  # (start, end, new text), applied from the end
        appended = []
        for key, value in changes.items():
            rendered = self._render_value(value)
            if key in self._spans:
                start, end = self._spans[key]
                pieces.append((start, end, rendered))
            else:
                appended.append(self._render_key(key) + self._layout.key_separator + rendered)
        if appended:
            last_end = max((end for _, end in self._spans.values()), default=None)
            if last_end is None:  # an empty object: open it up the way the layout says
                inner = self._layout.indent
                prefix, suffix = ("\n" + inner, "\n") if inner is not None else ("", "")
                joined = self._layout.item_separator.join(appended)
                pieces.append((self._close, self._close, prefix + joined + suffix))
            else:
                pieces.append((last_end, last_end, "".join(self._layout.item_separator + item for item in appended)))
        for start, end, new in sorted(pieces, key=lambda piece: piece[0], reverse=True):
            text = text[:start] + new + text[end:]
        return JsonDocument.parse(text)

    def render(self) -> str:
        """The document's text."""
        return self._text

    def _render_key(self, key: str) -> str:
        return json.dumps(key, ensure_ascii=self._layout.ensure_ascii)

    def _render_value(self, value: Any) -> str:
        layout = self._layout
        if layout.indent is None:
            item = layout.item_separator
            return json.dumps(value, ensure_ascii=layout.ensure_ascii, separators=(item, layout.key_separator))
        text = json.dumps(value, ensure_ascii=layout.ensure_ascii, indent=layout.indent,
                          separators=(",", layout.key_separator))  # fmt: skip
        # A top-level value sits one level deep: its continuation lines carry one more indent.
        return text.replace("\n", "\n" + layout.indent)


def _top_level_spans(text: str) -> tuple[dict[str, tuple[int, int]], int]:
    """The (start, end) of each top-level value and the index of the closing brace (text already validated)."""
    spans: dict[str, tuple[int, int]] = {}
    index = _skip(text, _skip(text, 0) + 1)  # past the opening brace
    if text[index] == "}":
        return spans, index
    while True:
        key, index = _DECODER.raw_decode(text, index)  # a key is a JSON string
        start = _skip(text, _skip(text, index) + 1)  # past the colon
        _, end = _DECODER.raw_decode(text, start)
        spans[key] = (start, end)
        index = _skip(text, end)
        if text[index] == "}":
            return spans, index
        index = _skip(text, index + 1)  # past the comma


def _skip(text: str, index: int) -> int:
    """The index of the first non-whitespace character at or after ``index``."""
    match = _WHITESPACE.match(text, index)
    return match.end() if match else index


def _detect_layout(text: str, spans: dict[str, tuple[int, int]]) -> _Layout:
    ensure_ascii = text.isascii()
    ordered = sorted(spans.values())
    if not ordered:
        return _Layout(None, ", ", ": ", ensure_ascii)
    first_start, first_end = ordered[0]
    opening = text.index("{")
    head = text[opening + 1 : first_start]  # whitespace, the first key, the colon and its spacing
    key_end = head.index('"', head.index('"') + 1)
    while head[key_end - 1] == "\\":  # an escaped quote inside the key
        key_end = head.index('"', key_end + 1)
    key_separator = head[key_end + 1 :]
    leading = head[: head.index('"')]
    indent = leading.rsplit("\n", 1)[1] if "\n" in leading else None
    if len(ordered) > 1:
        between = text[first_end : ordered[1][0]]
        item_separator = between[: between.index('"')]
    else:  # one field: write the next like a compact or a spaced document would
        item_separator = ",\n" + indent if indent is not None else ("," if key_separator == ":" else ", ")
    return _Layout(indent or None, item_separator, key_separator, ensure_ascii)
