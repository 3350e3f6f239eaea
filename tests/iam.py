"""template.yaml's IAM policies rendered with real parameter values, and the calls they must allow.

``rendered_policies`` resolves the intrinsics the template uses (Ref, Sub, If, Join, Split, GetAtt,
AWS::NoValue) for given parameters and pseudo parameters (which may also name resources: ``AlarmTopic``,
``AlarmTopicKey.Arn``). ``allows`` evaluates one call: its StringEquals (also ForAllValues and
ForAnyValue) and ArnLike conditions here, then Effect, Action and Resource with moto's IAM policy engine, whose resource
matching is corrected for the ``?`` wildcard that secret ARNs need (``-??????``).
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from typing import Any

from moto.iam.access_control import IAMPolicy, IAMPolicyStatement, PermissionResult

from sandbox.functions import load_template

__all__ = ["Call", "Grant", "Renderer", "allows", "denies", "rendered_policies"]


@dataclass(frozen=True)
class Call:
    """One authorization a function needs: action, resource ARN and the condition keys the request carries."""

    function: str
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()
    implied: str = ""  # why AWS checks it although the function made no such call (KMS via Secrets Manager…)


@dataclass
class Grant:
    """One statement of one function's policies, and which recorded calls it allowed."""

    function: str
    sid: str
    statement: dict[str, Any]
    used_by: list[Call] = field(default_factory=list)


class _Statement(IAMPolicyStatement):  # type: ignore[misc]
    @staticmethod
    def _match(pattern: str, string: str) -> re.Match[str] | None:
        # IAM wildcards: * any run, ? exactly one character (moto turns ? into a regex quantifier).
        return re.match(fnmatch.translate(pattern), string)


class _Policy(IAMPolicy):  # type: ignore[misc]
    def is_action_permitted(self, action: str, resource: str = "*", principal: Any = None,
                            incoming_condition_values: Any = None) -> PermissionResult:  # fmt: skip
        permitted = False
        for statement in self._policy_json["Statement"]:
            result = _Statement(statement).is_action_permitted(action, resource, principal, incoming_condition_values)
            if result == PermissionResult.DENIED:
                return result
            permitted = permitted or result == PermissionResult.PERMITTED
        return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL


def allows(statement: dict[str, Any], call: Call) -> bool:
    """Whether ``statement`` allows ``call`` (its Effect, Action, Resource and conditions)."""
    return statement.get("Effect") == "Allow" and _applies(statement, call)


def denies(statement: dict[str, Any], call: Call, principal: str) -> bool:
    """Whether the Deny ``statement`` (an SCP or permissions boundary) denies ``call`` made by ``principal``."""
    with_principal = Call(call.function, call.action, call.resource, (*call.context, ("aws:PrincipalArn", principal)))
    return statement.get("Effect") == "Deny" and _applies({**statement, "Effect": "Allow"}, with_principal)


def _applies(statement: dict[str, Any], call: Call) -> bool:
    context = dict(call.context)
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, expected in keys.items():
            if key not in context:
                return False  # a condition on a key the request does not carry never matches
            values = expected if isinstance(expected, list) else [expected]
            if operator == "StringEquals":
                matched = context[key] in values
            elif operator == "ForAllValues:StringEquals":  # a multivalued key (aws:TagKeys), comma-joined here
                matched = all(value in values for value in context[key].split(","))
            elif operator == "ForAnyValue:StringEquals":
                matched = any(value in values for value in context[key].split(","))
            elif operator in ("ArnLike", "ArnNotLike"):
                like = any(fnmatch.fnmatchcase(context[key], pattern) for pattern in values)
                matched = like if operator == "ArnLike" else not like
            else:
                raise AssertionError(f"the evaluator does not know condition operator {operator}")
            if not matched:
                return False
    unconditional = {k: v for k, v in statement.items() if k != "Condition"}
    policy = _Policy(json.dumps({"Version": "2012-10-17", "Statement": [unconditional]}))
    return bool(policy.is_action_permitted(call.action, call.resource, None, {}) == PermissionResult.PERMITTED)


class Renderer:
    """Resolves the template's intrinsics for given parameters and pseudo parameters."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, Any], pseudo: dict[str, str]) -> None:
        self.template = template
        self.values: dict[str, Any] = {}
        for name, spec in template["Parameters"].items():
            value = parameters.get(name, spec.get("Default", ""))
            if spec["Type"] == "CommaDelimitedList" and isinstance(value, str):
                value = value.split(",") if value else [""]
            self.values[name] = value
        self.values.update(pseudo)
        self.conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.render(self.template["Conditions"][name]))
        return self.conditions[name]

    def render(self, node: Any) -> Any:
        if isinstance(node, list):
            rendered = [self.render(item) for item in node]
            return [item for item in rendered if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((name, arg),) = node.items()
            if name == "Ref":
                if arg == "AWS::NoValue":
                    return _NO_VALUE
                if arg in self.values:
                    return self.values[arg]
                return f"<{arg}>"  # a resource's physical id: names are rendered from Sub where it matters
            if name == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.render(arg[1]))
                return re.sub(r"\$\{([^}]+)\}", lambda m: str({**self.values, **extra}.get(m[1], m[0])), text)
            if name == "Fn::If":
                return self.render(arg[1] if self.condition(arg[0]) else arg[2])
            if name == "Fn::Split":
                return str(self.render(arg[1])).split(str(arg[0]))
            if name == "Fn::GetAtt":  # a resource's attribute, when the pseudo parameters name it
                return self.values.get(".".join(arg), f"<{'.'.join(arg)}>")
            if name == "Fn::Join":
                return str(arg[0]).join(str(part) for part in self.render(arg[1]))
            if name == "Fn::Equals":  # CloudFormation compares strings: a Number parameter's 0 equals "0"
                left, right = (self.render(item) for item in arg)
                return left == right if isinstance(left, list) or isinstance(right, list) else str(left) == str(right)
            if name == "Fn::Or":
                return any(self.render(item) for item in arg)
            if name == "Fn::Not":
                return not self.render(arg[0])
            if name == "Fn::And":
                return all(self.render(item) for item in arg)
            if name in ("Condition", "Fn::Condition"):
                return self.condition(arg)
        rendered_items = {key: self.render(value) for key, value in node.items()}
        return {key: value for key, value in rendered_items.items() if value is not _NO_VALUE}


_NO_VALUE = object()


def rendered_policies(parameters: dict[str, Any], pseudo: dict[str, str]) -> list[Grant]:
    """Every statement granted to each rotation function (by logical id), rendered."""
    template = load_template()
    renderer = Renderer(template, parameters, pseudo)
    resources = template["Resources"]
    grants: list[Grant] = []
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        role = props.get("Role")
        documents = []
        if role is not None:
            for policy in renderer.render(resources[role["Fn::GetAtt"][0]]["Properties"]["Policies"]):
                documents.append(policy["PolicyDocument"])
        else:
            documents = renderer.render(props["Policies"])
        role_name = role["Fn::GetAtt"][0] if role is not None else f"{logical_id}Role"
        for extra in resources.values():  # stand-alone policies attached to the function's role (KMS)
            if (
                extra["Type"] == "AWS::IAM::Policy"
                and ("Condition" not in extra or renderer.condition(extra["Condition"]))
                and {"Ref": role_name} in extra["Properties"]["Roles"]
            ):
                documents.append(renderer.render(extra["Properties"]["PolicyDocument"]))
        for document in documents:
            for number, statement in enumerate(document["Statement"]):
                grants.append(Grant(logical_id, statement.get("Sid", f"#{number}"), statement))
        grants.extend(_key_policy_grants(renderer, resources, logical_id, role_name))
    return grants


def _key_policy_grants(renderer: Renderer, resources: dict[str, Any], function: str, role_name: str) -> list[Grant]:
    """Statements of the stack's KMS keys' policies that name the function's role (a key policy alone grants
    its principals, with no identity policy: "Required permissions: kms:GenerateMac (key policy)")."""
    role_arn = renderer.values.get(f"{role_name}.Arn")
    grants = []
    for key in resources.values():
        if key["Type"] != "AWS::KMS::Key" or ("Condition" in key and not renderer.condition(key["Condition"])):
            continue
        for statement in renderer.render(key["Properties"]["KeyPolicy"])["Statement"]:
            principals = statement.get("Principal", {}).get("AWS", [])
            if role_arn is not None and role_arn in (principals if isinstance(principals, list) else [principals]):
                unprincipaled = {k: v for k, v in statement.items() if k != "Principal"}
                grants.append(Grant(function, statement["Sid"], unprincipaled))
    return grants
