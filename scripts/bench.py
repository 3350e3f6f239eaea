"""Benchmark: cold start against the boto3 floor, rotation time, Secrets Manager calls, database connections and
failed logins, and peak memory, per kind and strategy of the harness.

Measures and prints; asserts nothing. Run with ``make bench``. The machine is shared and noisy, so every figure
stands beside a reference measured in the same run: cold starts are interleaved with the bare
``import boto3; boto3.client("secretsmanager")`` floor and reported as a ratio to it, and the load average is
printed before and after. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import re
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

# A cold start as Lambda lays the code out: the function's folder, then the layer's, on sys.path.
_COLD_START = """
import sys, time
started = time.perf_counter()
if sys.argv[1] == "floor":
    import boto3
    boto3.client("secretsmanager")
else:
    sys.path[:0] = [sys.argv[1], sys.argv[2]]
    import app
    app.lambda_handler.sm.client  # built on the first invocation
print((time.perf_counter() - started) * 1000)
"""

# Runs the four steps of one staged rotation in a fresh process and reports its peak RSS,
# which is what has to fit in the function's memory size. VmHWM, not ru_maxrss: Linux
# carries the spawning parent's high-water mark into ru_maxrss across exec.
_MEMORY_PROBE = """
import sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from sandbox.rotate_secret import LambdaContext
import app
for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
    event = {"Step": step, "SecretId": sys.argv[3], "ClientRequestToken": sys.argv[4]}
    app.lambda_handler(event, LambdaContext(sys.argv[5]))
status = open("/proc/self/status").read()
print(int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024)
"""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _stats(values: Sequence[float], unit: str, digits: int = 1) -> str:
    return f"{statistics.median(values):.{digits}f}{unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def _probe(code: str, *args: str) -> float:
    output = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=dict(os.environ)
    )
    return float(output.stdout.strip().splitlines()[-1])


def _code_paths(kind: str) -> tuple[str, str]:
    return str(ROOT / "functions" / kind), str(ROOT / "shared")


def cold_starts(kinds: Sequence[str], runs: int) -> dict[str, list[float]]:
    """Handler import plus the first client in fresh interpreters, interleaved with the floor, ``runs`` rounds."""
    samples: dict[str, list[float]] = {"floor": [], **{kind: [] for kind in kinds}}
    for round_ in range(runs):
        _say(f"cold starts: round {round_ + 1}/{runs}")
        for name in samples:
            samples[name].append(_probe(_COLD_START, *(("floor", "") if name == "floor" else _code_paths(name))))
    return samples


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def _fresh_container(factory: Callable[[str], Any], kind: str) -> Callable[[Any, Any], Any]:
    """A handler that builds a new engine (new client, empty cache) for every invocation."""

    def invoke(event: Any, context: Any) -> Any:
        return factory(kind)(event, context)

    return invoke


def _failed_logins(servers: Any) -> int:
    """Refused logins so far, every server's record summed."""
    from sandbox.probes import refused_logins

    targets = servers.targets
    return sum(refused_logins(servers.postgres, servers.replica, targets.redis, targets.managed).values())


def _connections(servers: Any) -> int:
    """Sessions PostgreSQL and its replica received so far."""
    return sum(server.log_text().count("connection received") for server in (servers.postgres, servers.replica))


def main(argv: Sequence[str] | None = None) -> int:
    """Run every measurement and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="repetitions per measurement")
    parser.add_argument("--many", type=int, default=200, help="secrets in the throughput run")
    parser.add_argument("--workers", type=int, default=8, help="concurrent rotations in the throughput run")
    args = parser.parse_args(argv)
    quiet_handlers()
    load_before = os.getloadavg()

    from rotator import kinds
    from rotator.handler import handler_for
    from sandbox.harness import HARNESSES
    from sandbox.rotate_secret import RotateSecretEmulator, lambda_arn
    from sandbox.session import running_sandbox

    rows = []
    with running_sandbox() as servers:
        server, targets = servers.moto, servers.targets
        starts = cold_starts(kinds.names(), args.runs)
        floor = statistics.median(starts["floor"])
        warm = servers.emulator  # every handler, loaded once: a warm container per kind
        for number, harness in enumerate(HARNESSES, 1):
            _say(f"rotations: {harness.label} ({number}/{len(HARNESSES)})")
            label, kind = harness.label, harness.kind
            # Every step in a new container: the worst case for Secrets Manager calls.
            cold = RotateSecretEmulator({lambda_arn(kind): _fresh_container(handler_for, kind)})
            name = f"amply/bench/{_slug(label)}"  # <app>/<env>/<name>, as our users name secrets
            targets.client.create_secret(Name=name, SecretString=harness.seed(targets))
            warm.enable_rotation(name, kind)
            harness.before_rotation(targets, name)
            warm.rotate(name)  # warm-up: the first rotation pays for building the client
            durations, warm_calls, cold_calls, rss, connections, refused = [], [], [], [], [], []
            for _ in range(args.runs):
                harness.before_rotation(targets, name)
                before_calls, before_logins = server.log.calls.copy(), _failed_logins(servers)
                connected = _connections(servers)
                started = time.perf_counter()
                result = warm.rotate(name)
                durations.append((time.perf_counter() - started) * 1000)
                warm_calls.append(float(sum((server.log.calls - before_calls).values())))
                # The TLS front keeps one connection for verifier look-ups: it is counted once, at start-up.
                connections.append(float(_connections(servers) - connected))
                refused.append(float(_failed_logins(servers) - before_logins))
                harness.before_rotation(targets, name)
                before_calls = server.log.calls.copy()
                result = cold.rotate(name)
                cold_calls.append(float(sum((server.log.calls - before_calls).values())))
                harness.before_rotation(targets, name)
                token = warm.begin(name)
                rss.append(_probe(_MEMORY_PROBE, *_code_paths(kind), name, token, lambda_arn(kind)))
                if not result.ok or warm.stuck_pending(name):
                    raise SystemExit(f"{label}: rotation failed at {result.failed_step}")
            cold_start = statistics.median(starts[kind])
            rows.append(
                [
                    label,
                    f"{cold_start / floor:.2f}x ({cold_start:.0f} ms)",
                    _stats(durations, " ms"),
                    _stats(warm_calls, "", 0),
                    _stats(cold_calls, "", 0),
                    _stats(connections, "", 0),
                    _stats(refused, "", 0),
                    _stats(rss, " MiB"),
                ]
            )
        _say(f"throughput: {args.many} rotations")
        throughput = _throughput(warm, targets.client, count=args.many, workers=args.workers)
    load_after = os.getloadavg()
    print(f"{args.runs} runs each; Python {sys.version.split()[0]}; {os.cpu_count()} cores; moto server on loopback")
    print(f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(
        f"cold-start floor (import boto3; boto3.client('secretsmanager')), same run: "
        f"{_stats(starts['floor'], ' ms', 0)}"
    )
    print_table(
        [
            "kind",
            "cold start / floor",
            "rotation, warm",
            "SM calls, warm",
            "SM calls, cold each step",
            "DB connections",
            "failed logins",
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

    names = [f"amply/bench/many-{index:04d}" for index in range(count)]
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
