"""One task of a sandbox consumer service: ``python -m sandbox.consumer_task LABEL INTERVAL``.

Like an application whose task definition injects the secret (``valueFrom``), it gets the value once, at
launch, in ``SECRET_VALUE`` (the agent read it, as ECS does), and never reads Secrets Manager. It keeps
opening new connections with it and prints one line per attempt, ``ok`` or ``refused`` (never the value),
until it is stopped.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import cast


def main(argv: list[str]) -> int:
    from sandbox.harness import Targets, by_label

    label, interval = argv[0], float(argv[1])
    value = os.environ.pop("SECRET_VALUE")
    harness = by_label(label)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.is_set():
        # postgres and redis need no targets to log in: the value names its server. No value: a broken task.
        try:
            print("ok" if value and harness.works(cast(Targets, None), value) else "refused", flush=True)
        except BrokenPipeError:  # the agent stopped reading: this task is being retired
            return 0
        stop.wait(interval)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
