"""The shape of the layer, measured: small modules, nothing written twice, every package installed, every path of
every kind exercised by the harness. The import contracts (layers, independent kinds, no cycle) are checked by
``lint-imports`` in ``make test`` (pyproject's ``[tool.importlinter]``); the last test here runs it too."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import tomllib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from rotator import kinds
from rotator.core.strategy import Strategy
from sandbox.functions import PROJECT_ROOT
from sandbox.harness import HARNESSES, for_kind

SHARED = PROJECT_ROOT / "shared" / "rotator"
MAX_LINES = 300
# Runs of this many significant lines (not blank, not a comment, not an import) may stand in one place only.
RUN = 6


def test_no_module_of_the_layer_is_over_300_lines() -> None:
    long = {str(path.relative_to(SHARED)): n for path in SHARED.rglob("*.py") if (n := _lines(path)) > MAX_LINES}
    assert long == {}


def test_nothing_in_the_layer_or_the_tool_is_written_twice() -> None:
    places: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for folder in (SHARED, PROJECT_ROOT / "rotation_cli"):
        for path in sorted(folder.rglob("*.py")):
            for line, run in _runs(path):
                places[run].append(f"{path.relative_to(PROJECT_ROOT)}:{line}")
    written_twice = {run[0]: where for run, where in places.items() if len(where) > 1}
    assert written_twice == {}


def test_every_package_of_the_layer_is_installed() -> None:
    declared = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    packages = {".".join(("rotator", *init.parent.relative_to(SHARED).parts)) for init in SHARED.rglob("__init__.py")}
    assert packages <= set(declared)


@pytest.mark.parametrize("kind", kinds.names())
def test_every_path_of_every_kind_has_a_harness_entry(kind: str) -> None:
    """The fault matrix, the configuration test, the demo and the benchmark iterate the harness: a path without
    an entry would escape them. (Which path a seeded secret takes is checked against the sandbox in
    ``test_fault_matrix``.)"""
    assert {path.__name__ for path in _paths(kind)} == {harness.path for harness in for_kind(kind)}


def test_every_harness_entry_names_its_path() -> None:
    assert all(harness.path.endswith("Strategy") for harness in HARNESSES)


def test_the_import_contracts_hold() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-logo", "--no-cache"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _runs(path: Path) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Each run of ``RUN`` consecutive significant lines, with the number of its first line."""
    significant = [
        (number, text.strip())
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if len(text.strip()) > 3 and not text.strip().startswith(("#", "import ", "from "))
    ]
    for start in range(len(significant) - RUN + 1):
        yield significant[start][0], tuple(text for _, text in significant[start : start + RUN])


def _paths(kind: str) -> set[type]:
    """The concrete strategies (paths) defined in the kind's package."""
    import importlib

    found: set[type] = set()
    for module_path in (SHARED / "kinds" / kind).glob("*.py"):
        if module_path.stem == "__init__":
            continue
        tree = ast.parse(module_path.read_text(encoding="utf-8"))
        if not any(isinstance(node, ast.ClassDef) for node in tree.body):
            continue
        module = importlib.import_module(f"rotator.kinds.{kind}.{module_path.stem}")
        for _, value in inspect.getmembers(module, inspect.isclass):
            if value.__module__ == module.__name__ and issubclass(value, Strategy) and not inspect.isabstract(value):
                found.add(value)
    return found
