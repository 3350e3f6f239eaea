"""Character-level checks shared by every codec: control characters and host names."""

from __future__ import annotations

import re

from rotator.errors import SecretFormatError

__all__ = ["check_host", "has_control"]

# C0, DEL, C1 (U+0085 among them) and the Unicode line and paragraph separators: each can split a log
# line or a protocol message, so none belongs in a name, a user or a host.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_HOSTNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.\-]{0,251}[A-Za-z0-9_.])?")
_IPV6 = re.compile(r"\[?[0-9A-Fa-f:.]{2,45}(?:%[A-Za-z0-9_.\-]{1,32})?\]?")


def has_control(text: str) -> bool:
    """True when ``text`` holds a control character or a Unicode line/paragraph separator."""
    return _CONTROL.search(text) is not None


def check_host(host: str, *, what: str) -> str:
    """``host`` when it is a DNS name or an IP literal; a typed error naming ``what`` otherwise."""
    if _HOSTNAME.fullmatch(host) or (":" in host and _IPV6.fullmatch(host)):
        return host
    raise SecretFormatError(f"{what} is not a valid host name or IP address")
