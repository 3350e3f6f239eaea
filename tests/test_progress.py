"""The command line's progress: a live line on a terminal, plain lines elsewhere, never one line per poll."""

from __future__ import annotations

import io

import pytest

from rotation_cli import progress as progress_module
from rotation_cli.progress import HEARTBEAT, Progress


def test_plain_output_prints_a_status_once_per_change_and_then_a_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    out = io.StringIO()
    with Progress(stream=out, terminal=False) as shown:
        for second in range(600):  # a ten-minute rollout polled every second
            clock[0] = float(second)
            shown.status(f"waiting for setSecret ({second} s)", key="waiting for setSecret")
        shown.status("waiting for testSecret (600 s)", key="waiting for testSecret")
        shown.line("  setSecret (applied, 12 ms)")
    lines = out.getvalue().splitlines()
    heartbeats = [line for line in lines if line.startswith("waiting for setSecret")]
    assert len(heartbeats) == 600 // int(HEARTBEAT)  # one at the start, then one every HEARTBEAT seconds
    assert lines[-2:] == ["waiting for testSecret (600 s)", "  setSecret (applied, 12 ms)"]


def test_a_terminal_gets_one_updating_line_and_the_permanent_lines() -> None:
    out = io.StringIO()
    with Progress(stream=out, terminal=True, total=3) as shown:
        for second in range(600):
            shown.status(f"waiting for setSecret ({second} s)")
        shown.advance()
        shown.line("amply/prod/redis-url: rotated")
    text = out.getvalue()
    assert "amply/prod/redis-url: rotated" in text
    assert text.count("\n") < 20, "a status line per poll"


def test_quiet_drops_the_status_and_keeps_the_lines() -> None:
    out = io.StringIO()
    with Progress(stream=out, terminal=False, quiet=True) as shown:
        shown.status("waiting")
        shown.line("done")
    assert out.getvalue() == "done\n"
