"""Redis ACL rules as Redis applies them: does a user hold the rights to change users?

The rotation never changes, through an admin, a user that can change users: one holding the ``acl`` command
(any subcommand that reads or changes users) or the whole ``@admin`` category. ``ACL GETUSER``'s command
rules are applied in order, the user's own and each selector's, as Redis does.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["text", "user_admin_right"]

# ACL subcommands that read or change users; whoami, cat, genpass, help and dryrun reveal nothing.
_ACL_WRITERS = ("setuser", "deluser", "getuser", "list", "users", "save", "load", "log")


def user_admin_right(reply: object, members: Callable[[str], set[str]]) -> str | None:
    """What in an ``ACL GETUSER`` reply lets the user change users (``members``: a category's commands), or None."""
    for rules in _command_rules(reply):
        if any(_permits(rules, "acl", sub, members) for sub in _ACL_WRITERS):
            return "the acl command"
        admin = members("admin")
        if admin and all(_permits(rules, *_split(name), members) for name in admin):
            return "the @admin category"
    return None


def text(value: object) -> str:
    """A reply element as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _split(name: str) -> tuple[str, str | None]:
    """``acl|setuser`` → (``acl``, ``setuser``); ``config`` → (``config``, None)."""
    command, _, sub = name.partition("|")
    return command, sub or None


def _pairs(reply: object) -> dict[str, object]:
    """A flat ``[key, value, ...]`` reply (or a RESP3 map) as a dict with text keys."""
    if isinstance(reply, dict):
        return {text(key): value for key, value in reply.items()}
    items = list(reply) if isinstance(reply, list) else []
    return {text(key): value for key, value in zip(items[::2], items[1::2], strict=False)}


def _command_rules(reply: object) -> list[list[str]]:
    """The command rules of an ``ACL GETUSER`` reply, in order: the user's own and each selector's."""
    data = _pairs(reply)
    flags = [text(flag) for flag in _list(data.get("flags"))]
    own = text(data.get("commands") or "").split()
    rules = [["+@all", *own] if "allcommands" in flags else own]
    for selector in _list(data.get("selectors")):
        rules.append(text(_pairs(selector).get("commands") or "").split())
    return rules


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


def _permits(rules: list[str], command: str, sub: str | None, members: Callable[[str], set[str]]) -> bool:
    """Whether ACL rules, applied in order as Redis does, allow ``command`` (``sub``command)."""
    full = f"{command}|{sub}" if sub else command
    allowed = False
    for rule in rules:
        if rule in ("allcommands", "nocommands"):
            allowed = rule == "allcommands"
            continue
        sign, name = rule[:1], rule[1:].lower()
        if sign not in ("+", "-"):
            continue
        if name.startswith("@"):
            listed = members(name[1:]) if name != "@all" else None
            if listed is None or command in listed or full in listed:
                allowed = sign == "+"
        elif name in (command, full):
            allowed = sign == "+"
    return allowed
