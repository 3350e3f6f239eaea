"""The runbook's sequences, longer than the test suite's bounded run: every harness path, random seeds.

Runs ``sandbox.sequences`` (a Hypothesis state machine of operator commands, Secrets Manager's retries, consumer
tasks launched at any moment, RDS rotating its master, managed resources staying modifying) for ``--examples``
sequences of up to ``--steps`` rules per path, and prints per path the sequences, the rules run and the
violations of the invariant (AWSCURRENT logs in; no consumer task is ever refused), then how often each rule ran
and the commands' exit statuses. A violation prints the shrunk sequence that shows it. Measures and prints;
exits 1 when a violation was found.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rotation_cli.table import print_table  # noqa: E402
from sandbox.session import quiet_handlers  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10, help="sequences per path (default 10)")
    parser.add_argument("--steps", type=int, default=10, help="rules per sequence at most (default 10)")
    parser.add_argument("--path", action="append", help="only this harness path (its label; repeatable)")
    args = parser.parse_args(argv)
    quiet_handlers()
    import os

    from rotator.observability import logger

    # The functions' failed steps still reach the sandbox's CloudWatch Logs (the commands read them); not the console.
    logger.registered_handler.setStream(open(os.devnull, "w"))  # type: ignore[attr-defined]  # noqa: SIM115

    from hypothesis import HealthCheck, settings
    from hypothesis.stateful import run_state_machine_as_test

    from sandbox.harness import HARNESSES
    from sandbox.moto_server import environment
    from sandbox.sequences import SequenceWorld, machine_for
    from sandbox.session import running_sandbox

    chosen = settings(
        max_examples=args.examples, stateful_step_count=args.steps, deadline=None, database=None,
        suppress_health_check=list(HealthCheck), print_blob=False,
    )  # fmt: skip
    rows, failures = [], 0
    with environment({"ROTATION_REDIS_MANAGED_WAIT_SECONDS": "2"}), running_sandbox() as servers:
        world = SequenceWorld(servers)
        try:
            for harness in (h for h in HARNESSES if not args.path or h.label in args.path):
                before = (world.stats.sequences, world.stats.steps, len(world.stats.violations))
                machine = machine_for(world, harness.label)
                try:
                    run_state_machine_as_test(machine, settings=chosen)
                except Exception as exc:  # the shrunk sequence is in the report Hypothesis printed
                    import traceback

                    failures += 1
                    print(f"{harness.label}: {type(exc).__name__}: {exc}", file=sys.stderr)
                    traceback.print_exception(exc, file=sys.stderr)
                rows.append([
                    harness.label, str(world.stats.sequences - before[0]), str(world.stats.steps - before[1]),
                    str(len(world.stats.violations) - before[2]),
                ])  # fmt: skip
        finally:
            world.close()
    print(f"Operator sequences: up to {args.examples} per path, up to {args.steps} rules each")
    print_table(["path", "sequences", "invariant checks", "violations"], rows)
    total = [sum(int(row[i]) for row in rows) for i in (1, 2, 3)]
    print(f"total: {total[0]} sequences, {total[1]} invariant checks, {total[2]} violations")
    print("\nrules run: " + ", ".join(f"{name} {count}" for name, count in sorted(world.stats.rules.items())))
    print("command exit statuses: " + ", ".join(f"{code}: {n}" for code, n in sorted(world.stats.exits.items())))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
