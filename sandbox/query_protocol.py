"""Responses in AWS's query protocol (ElastiCache, RDS), written from botocore's own model of each operation."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

__all__ = ["Answer", "query_error", "query_params", "query_response"]

Answer = tuple[int, str, bytes]  # HTTP status, content type, body


def query_params(body: bytes) -> dict[str, Any]:
    """A query-protocol request body as a dict (``Action`` included); ``Name.member.N`` lists become lists."""
    params: dict[str, Any] = {}
    for key, values in parse_qs(body.decode(errors="replace"), keep_blank_values=True).items():
        if ".member." in key:
            name, _, index = key.partition(".member.")
            params.setdefault(name, {})[int(index)] = values[0]
        else:
            params[key] = values[0]
    return {
        key: [value[i] for i in sorted(value)] if isinstance(value, dict) else value for key, value in params.items()
    }


def query_response(service: str, operation: str, result: dict[str, Any]) -> Answer:
    """``result`` as ``operation``'s XML response."""
    import botocore.session

    model = botocore.session.get_session().get_service_model(service)
    shape = model.operation_model(operation).output_shape
    body = (
        f'<{operation}Response xmlns="{model.metadata["xmlNamespace"]}"><{operation}Result>{_xml(shape, result)}'
        f"</{operation}Result><ResponseMetadata><RequestId>{secrets.token_hex(16)}</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    )
    return 200, "text/xml", body.encode()


def query_error(code: str, message: str) -> Answer:
    """An error response with ``code``, as botocore reads it."""
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{secrets.token_hex(16)}</RequestId></ErrorResponse>"
    )
    return 400, "text/xml", body.encode()


def _xml(shape: Any, value: Any) -> str:
    """``value`` serialized as the query protocol writes ``shape``."""
    if shape.type_name == "structure":
        parts = []
        for key, member in shape.members.items():
            if key in value:
                tag = member.serialization.get("name", key)
                parts.append(f"<{tag}>{_xml(member, value[key])}</{tag}>")
        return "".join(parts)
    if shape.type_name == "list":
        tag = shape.member.serialization.get("name", "member")
        return "".join(f"<{tag}>{_xml(shape.member, item)}</{tag}>" for item in value)
    if shape.type_name == "timestamp":
        return str(value.isoformat().replace("+00:00", "Z"))
    if shape.type_name == "boolean":
        return "true" if value else "false"
    return escape(str(value))
