"""A kind lives in one place: rotator.kinds. Everything else derives from it, and this test names what is missing."""

from __future__ import annotations

import pytest

from rotator import kinds
from rotator.constants import Step
from rotator.strategy import Strategy
from sandbox.functions import PROJECT_ROOT, rotation_functions
from sandbox.harness import HARNESSES, for_kind

CORPUS = PROJECT_ROOT / "tests" / "corpus"


def test_the_kinds_are_the_modules_of_rotator_kinds() -> None:
    modules = sorted(path.stem for path in (PROJECT_ROOT / "shared/rotator/kinds").glob("[!_]*.py"))
    assert list(kinds.names()) == modules
    for unknown in ("mysql", "__init__", "postgres.x", "../postgres", ""):
        with pytest.raises(ValueError, match=f"unknown kind {unknown!r}: one of "):
            kinds.strategy_class(unknown)


@pytest.mark.parametrize("kind", kinds.names())
def test_every_kind_has_its_strategy_harness_events_function_and_corpus(kind: str) -> None:
    strategy = kinds.strategy_class(kind)
    assert issubclass(strategy, Strategy)
    assert kind == strategy.KIND
    assert for_kind(kind), f"sandbox/harness.py has no entry for {kind}"
    events = {path.stem for path in (PROJECT_ROOT / "events" / kind).glob("*.json")}
    assert events == {step.value for step in Step}, f"events/{kind}/ lacks a step"
    functions = {spec.kind: spec for spec in rotation_functions().values()}
    assert kind in functions, f"template.yaml has no function with CodeUri functions/{kind}/"
    assert functions[kind].module_path.is_file()
    assert list((CORPUS / kind).glob("*.json")), f"tests/corpus/{kind}/ has no bad-input case"


def test_every_harness_entry_is_of_a_known_kind_and_labelled_once() -> None:
    labels = [harness.label for harness in HARNESSES]
    assert len(labels) == len(set(labels))
    assert {harness.kind for harness in HARNESSES} == set(kinds.names())
