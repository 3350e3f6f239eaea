"""Benchmark: cold import time, rotation time, Secrets Manager calls and peak memory per rotation.

Measures and prints; asserts nothing. Run with ``make bench``. Medians of
repeated runs with min and max.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox.session import quiet_handlers  # noqa: E402
from sandbox.table import print_table  # noqa: E402

_IMPORT_PROBE = """
import importlib.util, sys, time
started = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
imported = time.perf_counter()
module.lambda_handler.sm.client  # built on the first invocation
print((imported - started) * 1000, (time.perf_counter() - started) * 1000)
"""

# Runs the four steps of one staged rotation in a fresh process and reports its peak RSS,
# which is what has to fit in the function's memory size. VmHWM, not ru_maxrss: Linux
# carries the spawning parent's high-water mark into ru_maxrss across exec.
_MEMORY_PROBE = """
import importlib.util, json, sys
from sandbox.rotate_secret import LambdaContext
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
    event = {"Step": step, "SecretId": sys.argv[2], "ClientRequestToken": sys.argv[3]}
    module.lambda_handler(event, LambdaContext(sys.argv[4]))
status = open("/proc/self/status").read()
print(int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024)
"""


def _stats(values: Sequence[float], unit: str, digits: int = 1) -> str:
    return f"{statistics.median(values):.{digits}f} {unit} (min {min(values):.{digits}f}, max {max(values):.{digits}f})"


def _probe(code: str, *args: str) -> list[float]:
    output = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=dict(os.environ)
    )
    return [float(x) for x in output.stdout.strip().splitlines()[-1].split()]


def cold_start_ms(kind: str, runs: int) -> tuple[list[float], list[float]]:
    """Import the handler in a fresh interpreter (as a Lambda cold start does), then build its client."""
    path = str(ROOT / "functions" / kind / "app.py")
    samples = [_probe(_IMPORT_PROBE, path) for _ in range(runs)]
    return [s[0] for s in samples], [s[1] for s in samples]


def _fresh_container(factory: Callable[[str], Any], kind: str) -> Callable[[Any, Any], Any]:
    """A handler that builds a new engine (new client, empty cache) for every invocation."""

    def invoke(event: Any, context: Any) -> Any:
        return factory(kind)(event, context)

    return invoke


def main(argv: Sequence[str] | None = None) -> int:
    """Run every measurement and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="repetitions per measurement")
    parser.add_argument("--many", type=int, default=200, help="secrets in the throughput run")
    parser.add_argument("--workers", type=int, default=8, help="concurrent rotations in the throughput run")
    args = parser.parse_args(argv)
    quiet_handlers()

    from rotator.handler import handler_for
    from sandbox.harness import HARNESSES
    from sandbox.rotate_secret import RotateSecretEmulator, lambda_arn
    from sandbox.session import running_sandbox

    rows = []
    with running_sandbox() as servers:
        server, postgres, targets = servers.moto, servers.postgres, servers.targets
        client = targets.client
        warm = servers.emulator  # every handler, loaded once: a warm container per kind
        cold_starts_by_kind = {kind: cold_start_ms(kind, args.runs) for kind in {h.kind for h in HARNESSES}}
        for harness in HARNESSES:
            label, kind = harness.label, harness.kind
            # Every step in a new container: the worst case for Secrets Manager calls.
            cold = RotateSecretEmulator({lambda_arn(kind): _fresh_container(handler_for, kind)})
            imports, cold_starts = cold_starts_by_kind[kind]
            name = f"bench/{label}"
            client.create_secret(Name=name, SecretString=harness.seed(targets))
            warm.enable_rotation(name, kind)
            harness.before_rotation(targets, name)
            warm.rotate(name)  # warm-up: the first rotation pays for building the client
            durations, warm_calls, cold_calls, rss, connections = [], [], [], [], []
            for _ in range(args.runs):
                harness.before_rotation(targets, name)
                before, log_before = server.log.calls.copy(), postgres.log_text().count("connection received")
                started = time.perf_counter()
                result = warm.rotate(name)
                durations.append((time.perf_counter() - started) * 1000)
                warm_calls.append(float(sum((server.log.calls - before).values())))
                connections.append(float(postgres.log_text().count("connection received") - log_before))
                harness.before_rotation(targets, name)
                before = server.log.calls.copy()
                result = cold.rotate(name)
                cold_calls.append(float(sum((server.log.calls - before).values())))
                harness.before_rotation(targets, name)
                token = warm.begin(name)
                app = str(ROOT / "functions" / kind / "app.py")
                rss.extend(_probe(_MEMORY_PROBE, app, name, token, lambda_arn(kind)))
                if not result.ok or warm.stuck_pending(name):
                    raise SystemExit(f"{label}: rotation failed at {result.failed_step}")
            rows.append(
                [
                    label,
                    _stats(imports, "ms"),
                    _stats(cold_starts, "ms"),
                    _stats(durations, "ms"),
                    _stats(warm_calls, "", 0),
                    _stats(cold_calls, "", 0),
                    _stats(connections, "", 0),
                    _stats(rss, "MiB"),
                ]
            )
        throughput = _throughput(warm, client, count=args.many, workers=args.workers)
    print(f"{args.runs} runs each; Python {sys.version.split()[0]}; moto server on loopback")
    print_table(
        [
            "kind",
            "handler import",
            "import + boto3 client",
            "rotation, warm",
            "SM calls, warm",
            "SM calls, cold each step",
            "DB connections",
            "peak RSS",
        ],
        rows,
    )
    print()
    print(throughput)
    return 0


def _throughput(emulator: Any, client: Any, *, count: int, workers: int) -> str:
    """Rotate ``count`` session_secret secrets through the emulator with ``workers`` at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from sandbox.seed import seed_value

    names = [f"bench/many/{index:04d}" for index in range(count)]
    for name in names:
        client.create_secret(Name=name, SecretString=seed_value("session_secret"))
        emulator.enable_rotation(name, "session_secret")
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(emulator.rotate, names))
    elapsed = time.perf_counter() - started
    failed = sum(1 for result in results if not result.ok)
    return (
        f"throughput: {count} session_secret rotations, {workers} at a time: {elapsed:.1f} s, "
        f"{count / elapsed:.1f} rotations/s, {failed} failed"
    )


if __name__ == "__main__":
    sys.exit(main())
