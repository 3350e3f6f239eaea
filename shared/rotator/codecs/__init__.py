"""Secret value formats: the only code that knows JSON, URL syntax and key encodings.

Every codec round-trips exactly: ``parse(text).render() == text``, and a change
touches only the fields it names.
"""

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
