"""moto in server mode on a loopback port, in this process, with a request log and fault injection.

Handlers reach it over real HTTP (``AWS_ENDPOINT_URL``); the rotation emulator
reaches moto's backend directly because it runs in the same process.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from werkzeug.serving import BaseWSGIServer, make_server

from sandbox.query_protocol import query_error, query_params

__all__ = ["ACCOUNT_ID", "REGION", "Fault", "MotoServer", "environment", "sandbox_environment"]

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"

StartResponse = Callable[..., Any]
_INVOCATION = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")
_CONFIGURATION = re.compile(r"/2015-03-31/functions/([^/]+)/configuration")


@dataclass
class Fault:
    """Make the next ``times`` calls of ``operation`` misbehave, after letting ``skip`` of them through.

    ``throttle``: answer ThrottlingException without doing anything; ``delay``:
    wait ``delay`` seconds, then do it; ``fail_after``: do it, then answer
    InternalFailure (a crash right after the side effect, as seen by the caller).
    """

    operation: str
    kind: str = "throttle"
    times: int = 1
    delay: float = 0.0
    skip: int = 0


class _RequestLog:
    """WSGI middleware: counts Secrets Manager operations and injects faults into any JSON API's."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self._faults: list[Fault] = []
        # Set by the interactive sandbox: answers RotateSecret the way Secrets Manager does.
        self.rotate_secret: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]] | None = None
        # Called with the request body after moto answered one of these operations (the sandbox's ECS agent).
        self.after_call: dict[str, Callable[[dict[str, Any]], None]] = {}
        # Set by the interactive sandbox: Lambda's Invoke for the rotation functions (``rotation revoke-previous``).
        self.invoke_function: Callable[[str, dict[str, Any]], tuple[bool, Any]] | None = None
        # With it: Lambda's GetFunctionConfiguration of those functions (their timeout, for ``rotation status``).
        self.function_configuration: Callable[[str], dict[str, Any] | None] | None = None
        # What real S3 answers a caller without s3:ListBucket for a missing object: 403, not 404.
        self.missing_objects_denied = False
        # What moto lacks, answered by the sandbox (ElastiCache, MemoryDB, RDS endpoints): each gets
        # (service, operation, body) and answers (status, content type, body), or None to pass it on.
        self.emulated: list[Callable[[str, str, bytes], tuple[int, str, bytes] | None]] = []

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, operation: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.operation in (operation, "*") and fault.times > 0:
                    if fault.skip > 0:
                        fault.skip -= 1
                        continue
                    fault.times -= 1
                    return fault
        return None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        invoked = _INVOCATION.fullmatch(str(environ.get("PATH_INFO", "")))
        if invoked is not None and self.invoke_function is not None and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            failed, answer = self.invoke_function(
                unquote(invoked[1]), json.loads(environ["wsgi.input"].read(length) or b"{}")
            )
            headers = [("Content-Type", "application/json")] + (
                [("X-Amz-Function-Error", "Unhandled")] if failed else []
            )
            start_response("200 OK", headers)
            return [json.dumps(answer).encode()]
        configured = _CONFIGURATION.fullmatch(str(environ.get("PATH_INFO", "")))
        if (
            configured is not None
            and self.function_configuration is not None
            and environ.get("REQUEST_METHOD") == "GET"
        ):
            answer = self.function_configuration(unquote(configured[1]))
            if answer is not None:
                start_response("200 OK", [("Content-Type", "application/json")])
                return [json.dumps(answer).encode()]
        if self.missing_objects_denied and not target and environ.get("REQUEST_METHOD") == "GET":
            return self._missing_as_denied(environ, start_response)
        operation = target.rsplit(".", 1)[-1]  # any JSON or query API (Secrets Manager, ECS, ElastiCache…)
        app = self._app
        if not target and str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
            operation = _query_action(environ)
        if operation and self.emulated:
            app = self._emulating(_signing_service(environ), operation, app)
        if operation:
            if target.startswith("secretsmanager."):
                with self._lock:
                    self.calls[operation] += 1
            fault = self._take_fault(operation)
            query = not target
            if fault is not None and fault.kind == "throttle":
                start_response("400 Bad Request", [("Content-Type", _content_type(query))])
                return [_error_body(query, "ThrottlingException", "Rate exceeded")]
            if fault is not None and fault.kind == "delay":
                time.sleep(fault.delay)
            if operation == "RotateSecret" and self.rotate_secret is not None:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                status, answer = self.rotate_secret(json.loads(environ["wsgi.input"].read(length) or b"{}"))
                reason = "200 OK" if status == 200 else f"{status} Bad Request"
                start_response(reason, [("Content-Type", "application/x-amz-json-1.1")])
                return [json.dumps(answer).encode()]
            if operation in self.after_call and fault is None:
                return self._then_notify(operation, environ, start_response)
            if fault is not None and fault.kind == "fail_after":
                list(app(environ, _discard_response))
                start_response("500 Internal Server Error", [("Content-Type", _content_type(query))])
                return [_error_body(query, "InternalServiceError", "injected failure")]
        return app(environ, start_response)

    def _emulating(self, service: str, operation: str, moto: Any) -> Any:
        """A WSGI app answering with ``self.emulated`` when it knows the call, else moto."""
        emulated = list(self.emulated)

        def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            import io

            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            answer = next((found for hook in emulated if (found := hook(service, operation, body))), None)
            if answer is None:
                return moto(environ, start_response)  # type: ignore[no-any-return]
            status, content_type, payload = answer
            start_response(f"{status} {'OK' if status == 200 else 'Bad Request'}", [("Content-Type", content_type)])
            return [payload]

        return app

    def _then_notify(self, operation: str, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        import io

        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        answer = b"".join(self._app(environ, start_response))
        self.after_call[operation](json.loads(body or b"{}"))
        return [answer]

    def _missing_as_denied(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        answer: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *_: Any) -> Callable[[bytes], None]:
            answer.update(status=status, headers=headers)
            return lambda _data: None

        body = b"".join(self._app(environ, capture))
        if str(answer.get("status", "")).startswith("404") and b"NoSuchKey" in body:
            denied = b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
            denied += b"<Message>Access Denied</Message></Error>"
            start_response("403 Forbidden", [("Content-Type", "application/xml")])
            return [denied]
        start_response(answer["status"], answer["headers"])
        return [body]


def _content_type(query: bool) -> str:
    return "text/xml" if query else "application/x-amz-json-1.1"


def _error_body(query: bool, code: str, message: str) -> bytes:
    """An error as the JSON protocols or the query protocol (ElastiCache, RDS…) write it."""
    if query:
        return query_error(code, message)[2]
    return json.dumps({"__type": code, "message": message}).encode()


def _query_action(environ: dict[str, Any]) -> str:
    """The ``Action`` of a query-protocol request (ElastiCache, RDS, SNS…); the body stays readable."""
    import io

    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    environ["wsgi.input"] = io.BytesIO(body)
    return str(query_params(body).get("Action", ""))


def _signing_service(environ: dict[str, Any]) -> str:
    """The service a SigV4 request was signed for (``…/us-east-1/elasticache/aws4_request``)."""
    found = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request", str(environ.get("HTTP_AUTHORIZATION", "")))
    return found[1] if found else ""


def _discard_response(*_: object) -> None:
    """A start_response for a response nobody will see."""


class MotoServer:
    """A moto server thread bound to ``bind`` (127.0.0.1), on a free port unless one is given."""

    def __init__(self, port: int = 0, *, bind: str = "127.0.0.1") -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        self.log = _RequestLog(DomainDispatcherApplication(create_backend_app))
        self._server: BaseWSGIServer = make_server(
            bind, port, self.log, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="moto-server")

    @property
    def endpoint(self) -> str:
        """The ``http://127.0.0.1:PORT`` URL handlers on this machine use as ``AWS_ENDPOINT_URL``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> MotoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def environment(values: Mapping[str, str], drop: Iterable[str] = ()) -> Iterator[None]:
    """Set ``values`` and unset ``drop`` in the process environment for the duration, then restore both."""
    import os

    saved = {key: os.environ.get(key) for key in (*values, *drop)}
    for key in drop:
        os.environ.pop(key, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def sandbox_environment(endpoint: str, extra: dict[str, str] | None = None) -> Iterator[dict[str, str]]:
    """Point the AWS SDK at the sandbox (dummy credentials, fixed region) for the duration."""
    wanted = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "MOTO_ACCOUNT_ID": ACCOUNT_ID,
        **(extra or {}),
    }
    dropped = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
    with environment(wanted, dropped):
        yield wanted
