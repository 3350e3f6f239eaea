"""The rotation functions as ``template.yaml`` declares them: CodeUri + Handler, loaded like Lambda does."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "PROJECT_ROOT",
    "FunctionSpec",
    "load_handler",
    "load_template",
    "freshness_function",
    "refresh_function",
    "rotation_functions",
    "schedules_by_kind",
    "template_functions",
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML loader that reads CloudFormation's short-form tags (!Ref, !Sub, …) as plain dicts."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path | None = None) -> dict[str, Any]:
    """The parsed ``template.yaml``."""
    text = (path or PROJECT_ROOT / "template.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.load(text, Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader subclass
    return document


@dataclass(frozen=True)
class FunctionSpec:
    """One ``AWS::Serverless::Function`` of the template."""

    logical_id: str
    code_uri: str
    handler: str
    properties: dict[str, Any]

    @property
    def kind(self) -> str:
        """The kind a function rotates: its ``functions/<kind>/`` folder name."""
        return Path(self.code_uri).name

    @property
    def module_path(self) -> Path:
        """The handler module's file."""
        module = self.handler.rsplit(".", 1)[0]
        return PROJECT_ROOT / self.code_uri / (module.replace(".", "/") + ".py")

    @property
    def attribute(self) -> str:
        """The handler callable's name inside its module."""
        return self.handler.rsplit(".", 1)[1]


def template_functions(template: dict[str, Any] | None = None) -> dict[str, FunctionSpec]:
    """Every function of the template, by logical id."""
    template = template or load_template()
    specs = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        specs[logical_id] = FunctionSpec(logical_id, props["CodeUri"].rstrip("/"), props["Handler"], props)
    return specs


def rotation_functions(template: dict[str, Any] | None = None) -> dict[str, FunctionSpec]:
    """The template's rotation functions (one per kind of ``rotator.kinds``), by logical id."""
    from rotator import kinds

    return {key: spec for key, spec in template_functions(template).items() if spec.kind in kinds.names()}


def refresh_function(template: dict[str, Any] | None = None) -> FunctionSpec:
    """The function that redeploys a secret's ECS consumers after a rotation."""
    return next(spec for spec in template_functions(template).values() if spec.kind == "refresh_consumers")


def freshness_function(template: dict[str, Any] | None = None) -> FunctionSpec:
    """The scheduled check that every secret of the stack that should rotate has rotated in time."""
    return next(spec for spec in template_functions(template).values() if spec.kind == "freshness")


def rotation_timeout(template: dict[str, Any] | None = None) -> int:
    """The rotation functions' timeout in seconds (the template's Globals; Lambda's default of 3 s otherwise)."""
    template = template or load_template()
    return int(template.get("Globals", {}).get("Function", {}).get("Timeout", 3))


def load_handler(spec: FunctionSpec) -> Any:
    """Import the handler module from its file (a fresh module each call, like a cold start)."""
    name = f"_rotation_function_{spec.kind}_{id(spec)}"
    module_spec = importlib.util.spec_from_file_location(name, spec.module_path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {spec.module_path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, spec.attribute)


def schedules_by_kind(template: dict[str, Any] | None = None) -> dict[str, str]:
    """The rotation schedule the template gives the secrets of each kind (kinds without one rotate by hand)."""
    template = template or load_template()
    functions = rotation_functions(template)
    schedules: dict[str, str] = {}
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::SecretsManager::RotationSchedule":
            props = resource["Properties"]
            kind = functions[props["RotationLambdaARN"]["Fn::GetAtt"][0]].kind
            schedules.setdefault(kind, props["RotationRules"]["ScheduleExpression"])
    return schedules
