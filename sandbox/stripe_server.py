"""A local stand-in for the few Stripe API endpoints the stripe kind uses, on a loopback port.

``/v1/account``, ``/v1/balance`` and ``/v1/webhook_endpoints`` with Stripe's
error shapes: 401 for an unknown key, 403 for a restricted key without the
permission, 429 when told to rate-limit. The real ``stripe`` client talks to
it through its ``base_addresses`` option.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["StripeKey", "StripeServer"]


@dataclass
class StripeKey:
    """What a key may do: its account, mode and (for restricted keys) readable resources."""

    account: str
    permissions: frozenset[str] = frozenset({"account", "balance", "webhook_endpoints"})


@dataclass
class _State:
    keys: dict[str, StripeKey] = field(default_factory=dict)
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    rate_limit_next: int = 0
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


_OPEN_KEY = re.compile(r"(sk|rk)_(test|live)_(?P<account>[A-Za-z0-9]{6})[A-Za-z0-9]{10,}")


class StripeServer:
    """``StripeServer().start()``; ``base_url`` for the client; ``add_key`` to make keys valid.

    With ``open_registration`` (the interactive sandbox), any well-formed key
    authenticates as account ``acct_<its first six characters>``, so an
    operator can stage keys without registering them first.
    """

    def __init__(self, *, open_registration: bool = False, bind: str = "127.0.0.1") -> None:
        self.state = _State()
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                if status == 429:
                    self.send_header("Stripe-Should-Retry", "true")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", "req_" + secrets.token_hex(6))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, kind: str, message: str) -> None:
                self._reply(status, {"error": {"type": kind, "message": message}})

            def _authorise(self, resource: str) -> StripeKey | None:
                header = self.headers.get("Authorization", "")
                api_key = header.removeprefix("Bearer ").strip()
                with state.lock:
                    state.requests.append(f"{self.command} {urlsplit(self.path).path}")
                    if state.rate_limit_next > 0:
                        state.rate_limit_next -= 1
                        self._error(429, "rate_limit_error", "Too many requests")
                        return None
                    key = state.keys.get(api_key)
                    if key is None and open_registration and (match := _OPEN_KEY.fullmatch(api_key)):
                        key = state.keys[api_key] = StripeKey("acct_" + match["account"])
                if key is None:
                    self._error(401, "invalid_request_error", "Invalid API Key provided")
                    return None
                if resource not in key.permissions:
                    self._error(403, "invalid_request_error", "The provided key does not have the required permissions")
                    return None
                return key

            def _form(self) -> dict[str, list[str]]:
                length = int(self.headers.get("Content-Length") or 0)
                return parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/v1/account":
                    if key := self._authorise("account"):
                        self._reply(200, {"id": key.account, "object": "account"})
                elif path == "/v1/balance":
                    if key := self._authorise("balance"):
                        self._reply(200, {"object": "balance", "available": [], "pending": []})
                elif path == "/v1/webhook_endpoints":
                    if key := self._authorise("webhook_endpoints"):
                        with state.lock:
                            data = [e for e in state.endpoints.values() if e["account"] == key.account]
                        self._reply(200, {"object": "list", "data": [_public(e) for e in data], "has_more": False})
                elif path.startswith("/v1/webhook_endpoints/"):
                    if key := self._authorise("webhook_endpoints"):
                        endpoint = state.endpoints.get(path.rsplit("/", 1)[1])
                        if endpoint is None or endpoint["account"] != key.account:
                            self._error(404, "invalid_request_error", "No such webhook endpoint")
                        else:
                            self._reply(200, _public(endpoint))
                else:
                    self._error(404, "invalid_request_error", "Unrecognized request URL")

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                if path != "/v1/webhook_endpoints":
                    self._error(404, "invalid_request_error", "Unrecognized request URL")
                    return
                form = self._form()
                if not (key := self._authorise("webhook_endpoints")):
                    return
                endpoint: dict[str, Any] = {
                    "id": "we_" + secrets.token_hex(8),
                    "object": "webhook_endpoint",
                    "url": form.get("url", [""])[0],
                    "enabled_events": form.get("enabled_events[]", form.get("enabled_events[0]", [])),
                    "metadata": {k[9:-1]: v[0] for k, v in form.items() if k.startswith("metadata[")},
                    "status": "enabled",
                    "secret": "whsec_" + secrets.token_urlsafe(24),
                    "account": key.account,
                }
                with state.lock:
                    state.endpoints[str(endpoint["id"])] = endpoint
                self._reply(200, {**_public(endpoint), "secret": endpoint["secret"]})

            def do_DELETE(self) -> None:
                path = urlsplit(self.path).path
                if not path.startswith("/v1/webhook_endpoints/"):
                    self._error(404, "invalid_request_error", "Unrecognized request URL")
                    return
                if not (key := self._authorise("webhook_endpoints")):
                    return
                endpoint_id = path.rsplit("/", 1)[1]
                with state.lock:
                    endpoint = state.endpoints.get(endpoint_id)
                    if endpoint is None or endpoint["account"] != key.account:
                        self._error(404, "invalid_request_error", "No such webhook endpoint")
                        return
                    del state.endpoints[endpoint_id]
                self._reply(200, {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True})

        self._server = ThreadingHTTPServer((bind, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="stripe-server")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_key(self, api_key: str, account: str, permissions: set[str] | None = None) -> None:
        with self.state.lock:
            self.state.keys[api_key] = StripeKey(
                account, frozenset(permissions) if permissions is not None else StripeKey(account).permissions
            )

    def rate_limit(self, times: int) -> None:
        with self.state.lock:
            self.state.rate_limit_next = times

    def add_endpoint(self, account: str, url: str, events: list[str]) -> dict[str, Any]:
        endpoint: dict[str, Any] = {
            "id": "we_" + secrets.token_hex(8), "object": "webhook_endpoint", "url": url, "enabled_events": events,
            "metadata": {}, "status": "enabled", "secret": "whsec_" + secrets.token_urlsafe(24), "account": account,
        }  # fmt: skip
        with self.state.lock:
            self.state.endpoints[str(endpoint["id"])] = endpoint
        return endpoint

    def account_of(self, api_key: str) -> str:
        """The account a key authenticates as: registered, or (open registration) read from the key."""
        with self.state.lock:
            if api_key in self.state.keys:
                return self.state.keys[api_key].account
        match = _OPEN_KEY.fullmatch(api_key)
        if match is None:
            raise KeyError("not a key of this stand-in")
        return "acct_" + match["account"]

    def start(self) -> StripeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> StripeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _public(endpoint: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in endpoint.items() if k not in ("secret", "account")}
