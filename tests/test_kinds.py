"""A kind lives in one place: its package in rotator.kinds. Everything else derives from it, and this test names
what is missing."""

from __future__ import annotations

import pytest

from rotator import kinds
from rotator.constants import Step
from rotator.core.strategy import Kind
from sandbox.functions import PROJECT_ROOT, rotation_functions
from sandbox.harness import HARNESSES, for_kind

CORPUS = PROJECT_ROOT / "tests" / "corpus"


def test_the_kinds_are_the_packages_of_rotator_kinds() -> None:
    packages = sorted(path.parent.name for path in (PROJECT_ROOT / "shared/rotator/kinds").glob("[!_]*/__init__.py"))
    assert list(kinds.names()) == packages
    for unknown in ("mysql", "__init__", "postgres.x", "postgres.kind", "../postgres", ""):
        with pytest.raises(ValueError, match=f"unknown kind {unknown!r}: one of "):
            kinds.kind_class(unknown)


@pytest.mark.parametrize("kind", kinds.names())
def test_every_kind_has_its_strategy_harness_events_function_and_corpus(kind: str) -> None:
    kind_type = kinds.kind_class(kind)
    assert issubclass(kind_type, Kind)
    assert kind == kind_type.KIND
    assert for_kind(kind), f"sandbox/harness.py has no entry for {kind}"
    events = {path.stem for path in (PROJECT_ROOT / "events" / kind).glob("*.json")}
    assert events == {step.value for step in Step}, f"events/{kind}/ lacks a step"
    functions = {spec.kind: spec for spec in rotation_functions().values()}
    assert kind in functions, f"template.yaml has no function with CodeUri functions/{kind}/"
    assert functions[kind].module_path.is_file()
    assert list((CORPUS / kind).glob("*.json")), f"tests/corpus/{kind}/ has no bad-input case"
    documented = [path for path in (PROJECT_ROOT / "README.md", *(PROJECT_ROOT / "docs").glob("*.md"))
                  if f"\n### {kind}\n" in path.read_text(encoding="utf-8")]  # fmt: skip
    assert documented, f"no README or docs section '### {kind}'"


def test_every_harness_entry_is_of_a_known_kind_and_labelled_once() -> None:
    labels = [harness.label for harness in HARNESSES]
    assert len(labels) == len(set(labels))
    assert {harness.kind for harness in HARNESSES} == set(kinds.names())
