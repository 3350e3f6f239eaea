"""An application process using the client helper without pause, for the load scenario (``sandbox.load``).

``python -m sandbox.app_load KIND SECRET_ID [--workers N] [--ttl SECONDS]``: PostgreSQL through SQLAlchemy's
asyncio engine over asyncpg (N tasks, each request ``SELECT current_user`` on a new connection: NullPool, so every
request logs in, the worst case for a rotation); Redis through redis-py (N threads, each request an ``INCR`` on a
new connection). It prints ``ready`` once every worker has answered a request, runs until its stdin closes, then
prints one JSON line: requests, failed requests, refreshes and the failures' error types. Never a secret.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rotation_client import SecretCache

__all__ = ["main"]


@dataclass
class _Tally:
    requests: int = 0
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, error: BaseException | None) -> None:
        with self.lock:
            self.requests += 1
            if error is not None:
                self.failed += 1
                self.errors[type(error).__name__] += 1


def _postgres(cache: SecretCache, secret_id: str, workers: int, tally: _Tally, ready: Callable[[], None],
              stop: threading.Event) -> None:  # fmt: skip
    from sqlalchemy import text
    from sqlalchemy.pool import NullPool

    from rotation_client.for_sqlalchemy import create_async_engine

    async def worker(engine: Any, started: asyncio.Event) -> None:
        while not stop.is_set():
            error: BaseException | None = None
            try:
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT current_user"))
            except Exception as exc:
                error = exc
            tally.record(error)
            if error is None and not started.is_set():
                started.set()
            await asyncio.sleep(0)

    async def run() -> None:
        engine = create_async_engine(cache, secret_id, poolclass=NullPool)
        started = [asyncio.Event() for _ in range(workers)]
        tasks = [asyncio.create_task(worker(engine, event)) for event in started]
        await asyncio.gather(*(event.wait() for event in started))
        ready()
        await asyncio.gather(*tasks)
        await engine.dispose()

    asyncio.run(run())


def _redis(cache: SecretCache, secret_id: str, workers: int, tally: _Tally, ready: Callable[[], None],
           stop: threading.Event) -> None:  # fmt: skip
    from rotation_client.for_redis import redis_client

    started = threading.Barrier(workers + 1)

    def worker(index: int) -> None:
        client = redis_client(cache, secret_id, socket_timeout=5)
        key = f"app:load:{index}"
        first = True
        while not stop.is_set():
            client.connection_pool.disconnect()  # every request logs in
            error: BaseException | None = None
            try:
                client.incr(key)
            except Exception as exc:
                error = exc
            tally.record(error)
            if first and error is None:
                first = False
                started.wait()

    threads = [threading.Thread(target=worker, args=(index,), daemon=True) for index in range(workers)]
    for thread in threads:
        thread.start()
    started.wait()
    ready()
    for thread in threads:
        thread.join()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["postgres", "redis"])
    parser.add_argument("secret_id")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--ttl", type=float, default=300.0, help="the secret cache's TTL (the seeds': 300 s)")
    args = parser.parse_args(argv)
    cache, tally, stop = SecretCache(ttl=args.ttl), _Tally(), threading.Event()

    def ready() -> None:
        print("ready", flush=True)

    def until_stdin_closes() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    run = _postgres if args.kind == "postgres" else _redis
    run(cache, args.secret_id, args.workers, tally, ready, stop)
    report = {"requests": tally.requests, "failed": tally.failed, "refreshes": cache.stats.refreshes,
              "errors": dict(tally.errors)}  # fmt: skip
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
