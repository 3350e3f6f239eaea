"""Benchmark: cold start against the boto3 floor, rotation time, Secrets Manager calls, database connections and
failed logins, and peak memory, per kind and strategy of the harness.

Measures and prints; asserts nothing. Run with ``make bench``. The machine is shared and noisy, so every figure
stands beside a reference measured in the same run: cold starts are interleaved with the bare
``import boto3; boto3.client("secretsmanager")`` floor and reported as a ratio to it, and the load average is
printed before and after. Progress goes to stderr.

Cold starts run on the layer and functions as ``lambda.mk`` builds them, read-only as on Lambda, with the
bytecode a python3.13 build adds (compiled by the cold starts' interpreter, standing in for the runtime's)
and without. ``--cold-python`` measures them under another interpreter, the runtime's python3.13 for one.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rotation_cli.table import print_table  # noqa: E402
from sandbox.session import quiet_handlers  # noqa: E402

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


def _probe(code: str, *args: str, python: str = sys.executable, env: dict[str, str] | None = None) -> float:
    output = subprocess.run(
        [python, "-c", code, *args], capture_output=True, text=True, check=True, env=env or dict(os.environ)
    )
    return float(output.stdout.strip().splitlines()[-1])


def _code_paths(kind: str) -> tuple[str, str]:
    return str(ROOT / "functions" / kind), str(ROOT / "shared")


def build(kinds: Sequence[str], into: Path, python: str) -> dict[str, dict[str, tuple[str, str]]]:
    """Each kind's function and the layer as ``sam build`` lays them out (``lambda.mk``), twice: with bytecode
    compiled by ``python``, standing in for the runtime's python3.13, and without any."""

    def make(target: str, makefile: Path, artifacts: Path) -> None:
        artifacts.mkdir(parents=True)
        subprocess.run(
            ["make", "-s", "-f", str(makefile), target, f"ARTIFACTS_DIR={artifacts}", f"PYTHON={sys.executable}",
             f"BYTECODE_PYTHON={python}"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip

    _say("building the layer and the functions (lambda.mk)")
    make("build-SharedLayer", ROOT / "shared" / "Makefile", into / "bytecode" / "layer")
    for kind in kinds:
        make("build-BenchFunction", ROOT / "functions" / kind / "Makefile", into / "bytecode" / kind)
    shutil.copytree(into / "bytecode", into / "source", ignore=shutil.ignore_patterns("__pycache__"))
    layouts: dict[str, dict[str, tuple[str, str]]] = {}
    for layout, folder in (("bytecode", "bytecode"), ("no bytecode", "source")):
        layer = str(into / folder / "layer" / "python")
        layouts[layout] = {kind: (str(into / folder / kind), layer) for kind in kinds}
    return layouts


def _runtime_env(python: str, into: Path) -> dict[str, str]:
    """The probes' environment: Lambda cannot write bytecode next to its read-only code; another interpreter
    than this one gets the same boto3 as this one, installed for it (as the runtime ships it, precompiled)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if python != sys.executable:
        from importlib.metadata import version

        _say(f"installing boto3 {version('boto3')} for {python}")
        runtime = into / "runtime"
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(runtime),
             f"boto3=={version('boto3')}"],
            check=True,
        )  # fmt: skip
        env["PYTHONPATH"] = str(runtime)
    return env


def cold_starts(
    layouts: dict[str, dict[str, tuple[str, str]]], python: str, env: dict[str, str], runs: int
) -> dict[str, dict[str, list[float]]]:
    """Handler import plus the first client in fresh ``python`` interpreters, interleaved with the floor,
    ``runs`` rounds, for every layout of every kind."""
    samples: dict[str, dict[str, list[float]]] = {"floor": {"floor": []}}
    samples.update({layout: {kind: [] for kind in paths} for layout, paths in layouts.items()})
    for round_ in range(runs):
        _say(f"cold starts: round {round_ + 1}/{runs}")
        samples["floor"]["floor"].append(_probe(_COLD_START, "floor", "", python=python, env=env))
        for layout, paths in layouts.items():
            for kind, (function, layer) in paths.items():
                samples[layout][kind].append(_probe(_COLD_START, function, layer, python=python, env=env))
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
    parser.add_argument(
        "--cold-python",
        default=sys.executable,
        help="the interpreter of the cold starts, for example the runtime's python3.13 (default: this one)",
    )
    parser.add_argument("--cold-starts-only", action="store_true", help="measure the cold starts, no rotation")
    args = parser.parse_args(argv)
    quiet_handlers()
    load_before = os.getloadavg()

    from rotator import kinds
    from rotator.handler import handler_for
    from sandbox.harness import HARNESSES
    from sandbox.rotate_secret import RotateSecretEmulator, lambda_arn
    from sandbox.session import running_sandbox

    rows, throughput = [], ""
    with running_sandbox() as servers, tempfile.TemporaryDirectory(prefix="bench-build-") as built:
        server, targets = servers.moto, servers.targets
        layouts = build(kinds.names(), Path(built), args.cold_python)
        env = _runtime_env(args.cold_python, Path(built))
        starts = cold_starts(layouts, args.cold_python, env, args.runs)
        floor = statistics.median(starts["floor"]["floor"])
        warm = servers.emulator  # every handler, loaded once: a warm container per kind
        harnesses = () if args.cold_starts_only else HARNESSES
        for number, harness in enumerate(harnesses, 1):
            _say(f"rotations: {harness.label} ({number}/{len(harnesses)})")
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
            cold_start = statistics.median(starts["bytecode"][kind])
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
        if not args.cold_starts_only:
            _say(f"throughput: {args.many} rotations")
            throughput = _throughput(warm, targets.client, count=args.many, workers=args.workers)
    load_after = os.getloadavg()
    print(f"{args.runs} runs each; Python {sys.version.split()[0]}; {os.cpu_count()} cores; moto server on loopback")
    print(f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    cold_version = subprocess.run(
        [args.cold_python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    print(
        f"cold-start floor (import boto3; boto3.client('secretsmanager')) on Python {cold_version}, same run: "
        f"{_stats(starts['floor']['floor'], ' ms', 0)}"
    )
    print("cold start: each function and the layer as lambda.mk builds them, with and without bytecode")
    print_table(
        ["function", "with bytecode / floor", "without bytecode / floor"],
        [
            [
                kind,
                *(
                    f"{statistics.median(times) / floor:.2f}x"
                    for times in (starts["bytecode"][kind], starts["no bytecode"][kind])
                ),
            ]
            for kind in kinds.names()
        ],
    )
    if args.cold_starts_only:
        return 0
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
