"""Plain fixed-width tables for the operator tool (and the demo and benchmark, which print like it), at most 120
columns wide."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

__all__ = ["WIDTH", "print_table"]

WIDTH = 120
_GAP = 2


def _widths(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> list[int]:
    """Each column's width: natural when the table fits, else the widest columns narrowed.

    Cells wrap only between words, so no column narrows below its longest word; the first column names
    the row (a secret name, a kind) and is never narrowed, so it stays whole for copying.
    """
    columns = [[headers[i], *(row[i] for row in rows)] for i in range(len(headers))]
    widths = [max(map(len, cells)) for cells in columns]
    floors = [widths[0], *(max(len(word) for cell in cells for word in [*cell.split(), ""]) for cells in columns[1:])]
    while sum(widths) + _GAP * (len(widths) - 1) > width:
        narrowable = [i for i in range(len(widths)) if widths[i] > floors[i]]
        if not narrowable:
            break
        widths[max(narrowable, key=lambda i: widths[i])] -= 1
    return widths


def _lines(cells: Sequence[str], widths: Sequence[int]) -> list[str]:
    wrapped = [
        textwrap.wrap(cell, width, break_long_words=False, break_on_hyphens=False) or [""]
        for cell, width in zip(cells, widths, strict=True)
    ]
    depth = max(len(parts) for parts in wrapped)
    return [
        "  ".join(
            (parts[n] if n < len(parts) else "").ljust(w) for parts, w in zip(wrapped, widths, strict=True)
        ).rstrip()
        for n in range(depth)
    ]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, width: int = WIDTH) -> None:
    """A fixed-width table on stdout; cells wrap so that no line is wider than ``width``."""
    widths = _widths(headers, rows, width)
    for line in _lines(headers, widths):
        print(line)
    print("  ".join("-" * w for w in widths))
    for row in rows:
        for line in _lines(row, widths):
            print(line)
