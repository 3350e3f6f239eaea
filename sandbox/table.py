"""Plain fixed-width tables for the demo, the benchmark and the operator tool."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["print_table"]


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain fixed-width table on stdout."""
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) for i in range(len(headers))]
    print(_row(headers, widths))
    print(_row(["-" * w for w in widths], widths))
    for row in rows:
        print(_row(row, widths))
