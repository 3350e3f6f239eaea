"""JSON object secrets that keep their layout when a field changes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rotator.errors import SecretFormatError

__all__ = ["JsonDocument", "looks_like_json"]

_INDENTS: tuple[int | str | None, ...] = (None, 2, 4, "\t", 1, 3)
_SEPARATORS = ((", ", ": "), (",", ":"), (",", ": "))


def looks_like_json(text: str) -> bool:
    """True when the value is meant as JSON (first non-blank is ``{`` or ``[``; only objects are accepted)."""
    return text.lstrip().startswith(("{", "["))


def _reject_constant(name: str) -> Any:
    raise SecretFormatError(f"JSON secret contains the non-standard constant {name}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise SecretFormatError(f"JSON secret repeats the key {key!r}")
        result[key] = value
    return result


@dataclass(frozen=True)
class _Layout:
    indent: int | str | None
    separators: tuple[str, str]
    ensure_ascii: bool
    leading: str
    trailing: str


@dataclass(frozen=True)
class JsonDocument:
    """A parsed JSON object plus the layout needed to write it back identically."""

    fields: dict[str, Any] = field(repr=False)
    _layout: _Layout = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> JsonDocument:
        """Parse a JSON object; refuses arrays, scalars, duplicate keys and NaN."""
        try:
            value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            # The position is safe to report; the document text is not.
            raise SecretFormatError(f"secret is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
        if not isinstance(value, dict):
            raise SecretFormatError("JSON secret must be an object")
        return cls(value, _detect_layout(text, value))

    def get_str(self, key: str, *, required: bool = True) -> str | None:
        """A string field, or a typed error naming the field."""
        value = self.fields.get(key)
        if value is None:
            if required:
                raise SecretFormatError(f"JSON secret lacks the field {key!r}")
            return None
        if not isinstance(value, str):
            raise SecretFormatError(f"JSON secret field {key!r} must be a string")
        return value

    def replace(self, **changes: Any) -> JsonDocument:
        """A copy with some fields set; key order and every other field are kept."""
        fields = dict(self.fields)
        fields.update(changes)
        return JsonDocument(fields, self._layout)

    def render(self) -> str:
        """Serialise with the layout the document was parsed with."""
        layout = self._layout
        body = json.dumps(
            self.fields,
            indent=layout.indent,
            separators=layout.separators,
            ensure_ascii=layout.ensure_ascii,
        )
        return f"{layout.leading}{body}{layout.trailing}"


def _detect_layout(text: str, value: dict[str, Any]) -> _Layout:
    stripped = text.strip()
    leading = text[: len(text) - len(text.lstrip())]
    trailing = text[len(text.rstrip()) :]
    for indent in _INDENTS:
        for separators in _SEPARATORS:
            if indent is not None and separators[0] != ",":
                continue
            for ensure_ascii in (True, False):
                rendered = json.dumps(value, indent=indent, separators=separators, ensure_ascii=ensure_ascii)
                if rendered == stripped:
                    return _Layout(indent, separators, ensure_ascii, leading, trailing)
    # Unrecognised layout: keep the data exact, write the most common layout.
    fallback_indent = 2 if "\n" in stripped else None
    fallback_separators = (",", ": ") if fallback_indent is not None else (", ", ": ")
    return _Layout(fallback_indent, fallback_separators, stripped.isascii(), leading, trailing)
