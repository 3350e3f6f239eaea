"""template.yaml is valid, every function resolves, and every event runs through the declared handler path."""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rotator.constants import Stage, Step
from sandbox.functions import PROJECT_ROOT, load_handler, load_template, refresh_function, rotation_functions
from sandbox.rotate_secret import LambdaContext, RotateSecretEmulator, lambda_arn
from tests.helpers import version_with
from tests.leak_canary import register_secret, secret_parts

_STAGED = pytest.StashKey[str]()
EVENT_FILES = sorted((PROJECT_ROOT / "events").glob("*/*.json"))
STEP_ORDER = {step.value: index for index, step in enumerate(Step)}


def test_cfn_lint_is_clean() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(PROJECT_ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_function_resolves_to_a_module_and_callable(moto_server: Any) -> None:
    specs = rotation_functions()
    assert specs, "template declares no function"
    for spec in specs.values():
        assert spec.module_path.is_file(), spec.module_path
        assert (PROJECT_ROOT / "shared" / "rotator" / "kinds" / spec.kind / "kind.py").is_file()
        handler = load_handler(spec)  # configured by the sandbox environment, as the template configures it
        assert callable(handler)
        assert spec.kind == handler.kind.KIND


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def _resource_arns(resource: Any, parameters: dict[str, Any]) -> list[str]:
    """Every ARN a policy Resource can take, following Fn::If branches and parameter Refs."""
    if isinstance(resource, list):
        return [arn for item in resource for arn in _resource_arns(item, parameters)]
    if isinstance(resource, dict) and "Fn::If" in resource:
        return _resource_arns(resource["Fn::If"][1:], parameters)
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        return [sub if isinstance(sub, str) else sub[0]]
    if isinstance(resource, dict) and "Ref" in resource:
        assert resource["Ref"] in parameters, resource
        return [f"<parameter {resource['Ref']}>"]
    return [resource]


def _policies(spec: Any, resources: dict[str, Any] | None = None) -> list[tuple[str | None, dict[str, Any]]]:
    """Each policy document of a function (SAM Policies, or its explicit role's) with the condition it
    depends on (None: always attached)."""
    role = spec.properties.get("Role")
    if role is not None:
        resources = resources or load_template()["Resources"]
        entries = resources[role["Fn::GetAtt"][0]]["Properties"]["Policies"]
    else:
        entries = spec.properties["Policies"]
    found: list[tuple[str | None, dict[str, Any]]] = []
    for policy in entries:
        condition = None
        if "Fn::If" in policy:
            condition, policy, otherwise = policy["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}, policy
        found.append((condition, policy.get("PolicyDocument", policy)))
    return found


_CLUSTER_SCOPE = {"ArnLike": {"ecs:cluster": {"Fn::Split": [",", {"Fn::Sub": [
    "arn:*:ecs:*:*:cluster/${Names}", {"Names": {"Fn::Join": [",arn:*:ecs:*:*:cluster/", {"Ref": "ConsumerClusters"}]}}
]}]}}}  # fmt: skip


def _ecs_scoped(statement: dict[str, Any], arn: str) -> bool:
    """ECS: the consumer clusters only. DescribeTaskDefinition has no resource type (``*``); the list calls
    have no resource but the ``ecs:cluster`` condition; services and tasks are this account's and region's."""
    actions = _actions(statement)
    if not all(action.startswith("ecs:") for action in actions):
        return False
    if actions == ["ecs:DescribeTaskDefinition"]:
        assert arn == "*"
        return True
    assert statement["Condition"] == _CLUSTER_SCOPE, statement
    if arn == "*":
        assert set(actions) <= {"ecs:ListServices", "ecs:ListTasks"}, actions
    else:
        assert arn in ("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service/*",
                       "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/*"), arn  # fmt: skip
    return True


def test_every_function_has_a_scoped_policy_and_a_source_account_permission() -> None:
    template = load_template()
    resources = template["Resources"]
    for logical_id, spec in rotation_functions(template).items():
        for condition, policy in _policies(spec, resources):
            for statement in policy["Statement"]:
                for arn in _resource_arns(statement["Resource"], template["Parameters"]):
                    if _ecs_scoped(statement, arn):
                        assert condition == "HasConsumerClusters", "ECS permissions only with consumer clusters"
                        continue
                    assert arn != "*", f"{logical_id} has a wildcard resource"
                    if _actions(statement) == ["s3:ListBucket"]:  # the keyring object's prefix only
                        assert arn == "arn:${AWS::Partition}:s3:::${Bucket}", arn
                        assert statement["Condition"] == {
                            "StringEquals": {"s3:prefix": "checkpoint-signing-key/jwks.json"}
                        }
                    elif all(action.startswith("s3:") for action in _actions(statement)):
                        assert arn.endswith("/checkpoint-signing-key/jwks.json"), arn  # the keyring object only
                    elif any(action.startswith("rds:") for action in _actions(statement)):
                        # Read-only, this account and region, the postgres function only.
                        assert set(_actions(statement)) == {"rds:DescribeDBInstances", "rds:DescribeDBClusters"}
                        assert spec.kind == "postgres", logical_id
                        assert arn in (
                            "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*",
                            "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*",
                        ), arn
                    elif _actions(statement) in (["elasticache:DescribeUserGroups"], ["memorydb:DescribeACLs"]):
                        # Read-only waits on the groups holding a managed user, this account and Region.
                        assert spec.kind == "redis", logical_id
                        assert arn in (
                            "arn:${AWS::Partition}:elasticache:${AWS::Region}:${AWS::AccountId}:usergroup:*",
                            "arn:${AWS::Partition}:memorydb:${AWS::Region}:${AWS::AccountId}:acl/*",
                        ), arn
                    else:
                        assert arn.startswith("<parameter ") or ":secret:${AppName}/${Environment}/" in arn, arn
        permissions = [
            r["Properties"]
            for r in resources.values()
            if r["Type"] == "AWS::Lambda::Permission"
            and r["Properties"]["FunctionName"] == {"Fn::GetAtt": [logical_id, "Arn"]}
        ]
        assert permissions, f"{logical_id} cannot be invoked by Secrets Manager"
        for permission in permissions:
            assert permission["Principal"] == "secretsmanager.amazonaws.com"
            assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_the_refresh_function_exists_only_with_consumer_clusters_and_is_scoped() -> None:
    template = load_template()
    resources = template["Resources"]
    spec = refresh_function(template)
    for name, resource in resources.items():
        if "Consumers" in name or name in ("RotationSucceededRule", "ConsumerDeploymentFailedRule"):
            assert resource.get("Condition") == "HasConsumerClusters", name
    ((_, policy),) = _policies(spec, resources)
    alarm_topic = ({"Ref": "AlarmTopic"}, {"Fn::GetAtt": ["AlarmTopicKey", "Arn"]})
    for statement in policy["Statement"]:
        if statement["Resource"] in alarm_topic:  # publishing failures to the stack's own topic
            continue
        for arn in _resource_arns(statement["Resource"], template["Parameters"]):
            if not _ecs_scoped(statement, arn):
                assert ":secret:${AppName}/${Environment}/" in arn, arn
    permissions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"
                   and r["Properties"]["FunctionName"] == {"Fn::GetAtt": [spec.logical_id, "Arn"]}]  # fmt: skip
    assert sorted(p["SourceArn"]["Fn::GetAtt"][0] for p in permissions) == [
        "ConsumerDeploymentFailedRule", "RotationSucceededRule"]  # fmt: skip
    assert {p["Principal"] for p in permissions} == {"events.amazonaws.com"}
    pattern = resources["RotationSucceededRule"]["Properties"]["EventPattern"]
    assert pattern["detail"]["eventName"] == ["RotationSucceeded"]
    assert (
        pattern["detail"]["additionalEventData"]
        == (resources["RotationFailedRule"]["Properties"]["EventPattern"]["detail"]["additionalEventData"])
    ), "the same secrets as the failure rule: the stack's own"


def test_master_and_admin_secrets_are_readable_only_when_configured() -> None:
    """A secret writer must not be able to point a rotation at a master the deployer never named."""
    template = load_template()
    functions = rotation_functions(template)
    reads = {}
    for logical_id in ("PostgresFunction", "RedisFunction"):
        for condition, policy in _policies(functions[logical_id], template["Resources"]):
            for statement in policy["Statement"]:
                if "secretsmanager:GetSecretValue" in _actions(statement) and statement["Sid"].startswith("Read"):
                    # GetSecretValue, and for a master DescribeSecret (an RDS-managed master's system tag)
                    assert set(_actions(statement)) <= {
                        "secretsmanager:GetSecretValue",
                        "secretsmanager:DescribeSecret",
                    }
                    reads[statement["Sid"]] = (condition, statement["Resource"])
    assert reads == {
        "ReadMasterSecret": ("HasPostgresMaster", {"Ref": "PostgresMasterSecretArn"}),
        "ReadNamedMasterSecrets": ("HasPostgresMasters", {"Ref": "PostgresMasterSecretArns"}),
        "ReadRedisAdminSecret": ("HasRedisAdmin", {"Ref": "RedisAdminSecretArn"}),
        "ReadNamedRedisAdminSecrets": ("HasRedisAdmins", {"Ref": "RedisAdminSecretArns"}),
    }
    text = (PROJECT_ROOT / "template.yaml").read_text()
    assert "database-master-" not in text
    assert "redis-admin-" not in text
    # The functions are told the same list IAM allows: they refuse any other masterarn/adminarn.
    env = {k: v for spec in functions.values() for k, v in spec.properties["Environment"]["Variables"].items()}
    assert env["ROTATION_POSTGRES_MASTER_SECRET_ARNS"] == {"Fn::Join": [",", {"Ref": "PostgresMasterSecretArns"}]}
    assert env["ROTATION_REDIS_ADMIN_SECRET_ARNS"] == {"Fn::Join": [",", {"Ref": "RedisAdminSecretArns"}]}


def test_logging_config_is_explicit() -> None:
    config = load_template()["Globals"]["Function"]["LoggingConfig"]
    assert config == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN"}


INVENTORY = {  # our users' secrets and the kind that rotates each; stripe ones rotate manually
    "database-url": ("postgres", "rate(30 days)"),
    "redis-url": ("redis", "rate(30 days)"),
    "checkpoint-signing-key": ("signing_key", "rate(365 days)"),
    "session-secret": ("session_secret", "rate(365 days)"),
    "api-encryption-key": ("session_secret", "rate(365 days)"),
}


def _secret_name(secret_id: Any, resources: dict[str, Any]) -> str:
    if "Fn::If" in secret_id:  # created secret or existing name: both carry the same name
        secret_id = secret_id["Fn::If"][2]
    if "Ref" in secret_id:
        secret_id = resources[secret_id["Ref"]]["Properties"]["Name"]
    text = secret_id["Fn::Sub"] if isinstance(secret_id, dict) else secret_id
    assert text.startswith("${AppName}/${Environment}/"), text
    return str(text.rsplit("/", 1)[1])


def test_every_secret_of_the_inventory_is_scheduled_on_the_function_of_its_kind() -> None:
    template = load_template()
    functions = rotation_functions(template)
    scheduled = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::SecretsManager::RotationSchedule":
            continue
        props = resource["Properties"]
        name = _secret_name(props["SecretId"], template["Resources"])
        target = props["RotationLambdaARN"]["Fn::GetAtt"][0]
        scheduled[name] = (functions[target].kind, props["RotationRules"]["ScheduleExpression"])
        assert props["RotationRules"]["Duration"] == "3h"
        assert resource["DependsOn"].endswith("InvokePermission")
    assert scheduled == INVENTORY
    assert "StripeFunction" in functions  # deployed, attached by hand: no schedule


def test_every_event_file_targets_an_existing_function() -> None:
    kinds = {spec.kind for spec in rotation_functions().values()}
    assert EVENT_FILES
    for path in EVENT_FILES:
        assert path.parent.name in kinds, path
        event = json.loads(path.read_text())
        assert event["Step"] == path.stem


@pytest.mark.parametrize("kind", sorted({path.parent.name for path in EVENT_FILES}))
def test_event_files_rotate_through_the_template_handler_path(
    request: pytest.FixtureRequest,
    sm_client: Any,
    emulator: RotateSecretEmulator,
    template_handlers: dict[str, Callable[..., Any]],
    kind: str,
) -> None:
    events = sorted((PROJECT_ROOT / "events" / kind).glob("*.json"), key=lambda p: STEP_ORDER[p.stem])
    assert [p.stem for p in events] == [step.value for step in Step]
    first = json.loads(events[0].read_text())
    secret_id, token = first["SecretId"], first["ClientRequestToken"]
    value = _seed_value(request, kind)
    register_secret(*secret_parts(value))
    with contextlib.suppress(sm_client.exceptions.ResourceNotFoundException):
        sm_client.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)
    sm_client.create_secret(Name=secret_id, SecretString=value)
    emulator.enable_rotation(secret_id, kind)
    if _STAGED in request.node.stash:  # stripe promotes what an operator staged
        sm_client.put_secret_value(
            SecretId=secret_id, SecretString=request.node.stash[_STAGED], VersionStages=["STAGED"]
        )
    old_version = version_with(sm_client, secret_id, Stage.CURRENT)
    emulator.begin(secret_id, token=token)
    handler = template_handlers[kind]
    for path in events:  # Lambda's context names the invoked function: the secret's rotation function
        handler(json.loads(path.read_text()), LambdaContext(lambda_arn(kind)))
    stages = sm_client.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
    assert Stage.CURRENT in stages[token]
    assert old_version is not None
    assert Stage.PREVIOUS in stages[old_version]


def _seed_value(request: pytest.FixtureRequest, kind: str) -> str:
    """A starting value whose credentials work against the suite's own servers."""
    if kind == "postgres":
        from sandbox.seed import seed_postgres_role

        return seed_postgres_role(request.getfixturevalue("postgres").superuser_url, "events_app")
    if kind == "signing_key":
        from sandbox.seed import seed_signing_key

        request.getfixturevalue("s3_client")  # creates the keyring bucket
        return seed_signing_key("ES256")
    if kind == "stripe":
        server = request.getfixturevalue("stripe_api")
        old, new = (f"sk_test_{secrets.token_hex(16)}" for _ in range(2))
        for key in (old, new):
            server.add_key(key, "acct_events")
        register_secret(new)
        request.node.stash[_STAGED] = new
        return old
    if kind == "redis":
        from sandbox.seed import seed_redis_user

        target = request.getfixturevalue("redis_primary")
        return seed_redis_user(target.host, target.port, target.admin_password, "events_app")
    from sandbox.seed import seed_value

    return seed_value(kind)


def test_handler_modules_build_their_engine_and_end_the_cold_start() -> None:
    for spec in rotation_functions().values():
        code = [
            line
            for line in Path(spec.module_path).read_text().splitlines()
            if line.strip() and not line.startswith(('"""', "#")) and not line.startswith(" ")
        ]
        assert code == [
            "from rotator.cold_start import frozen",
            "from rotator.handler import handler_for",
            f'lambda_handler = frozen(handler_for("{spec.kind}"))',
        ]


def test_samconfig_has_every_environment_with_its_own_sections() -> None:
    import tomllib

    config = tomllib.loads((PROJECT_ROOT / "samconfig.toml").read_text())
    for env in ("sandbox", "staging", "prod"):
        assert {"global", "build", "validate", "deploy"} <= set(config[env]), env
        assert config[env]["global"]["parameters"]["stack_name"].startswith(f"amply-{env}-")
        assert config[env]["global"]["parameters"]["region"]
        assert (
            f'Environment=\\"{env}\\"'.replace("\\", "") in config[env]["deploy"]["parameters"]["parameter_overrides"]
        )


def _resources_of(kind: str) -> dict[str, Any]:
    return {k: v for k, v in load_template()["Resources"].items() if v["Type"] == kind}


def test_no_concurrency_is_reserved_unless_asked() -> None:
    template = load_template()
    assert template["Parameters"]["ReservedConcurrency"]["Default"] == 0
    for spec in rotation_functions(template).values():
        assert spec.properties["ReservedConcurrentExecutions"] == {
            "Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
        }


def test_data_the_stack_owns_survives_a_delete_or_replacement() -> None:
    resources = load_template()["Resources"]
    kept = ("AWS::SecretsManager::Secret", "AWS::KMS::Key", "AWS::S3::Bucket", "AWS::Logs::LogGroup")
    owned = {k: v for k, v in resources.items() if v["Type"] in kept}
    assert {v["Type"] for v in owned.values()} == set(kept)
    for logical_id, resource in owned.items():
        assert resource.get("DeletionPolicy") == "Retain", logical_id
        assert resource.get("UpdateReplacePolicy") == "Retain", logical_id


def test_every_function_logs_to_its_own_group_with_the_configured_retention() -> None:
    template = load_template()
    groups = _resources_of("AWS::Logs::LogGroup")
    for spec in rotation_functions(template).values():
        group = spec.properties["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        name = groups[group]["Properties"]["LogGroupName"]["Fn::Sub"]
        assert name == "/aws/lambda/" + spec.properties["FunctionName"]["Fn::Sub"]


def test_the_vpc_policy_is_attached_only_in_a_vpc() -> None:
    """SAM attaches AWSLambdaVPCAccessExecutionRole whenever VpcConfig is present, even as a false Fn::If."""
    template = load_template()
    for logical_id, spec in rotation_functions(template).items():
        if "VpcConfig" not in spec.properties:
            continue
        assert "Policies" not in spec.properties, f"{logical_id}: SAM would attach the VPC policy unconditionally"
        role = template["Resources"][spec.properties["Role"]["Fn::GetAtt"][0]]["Properties"]
        vpc = [arn for arn in role["ManagedPolicyArns"] if "Fn::If" in arn]
        assert vpc, logical_id
        condition, policy, otherwise = vpc[0]["Fn::If"]
        assert condition == "InVpc"
        assert policy["Fn::Sub"].endswith("/AWSLambdaVPCAccessExecutionRole")
        assert otherwise == {"Ref": "AWS::NoValue"}


def test_alarms_can_be_delivered_and_failures_of_this_stacks_secrets_reach_them() -> None:
    resources = load_template()["Resources"]
    topic = resources["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}  # not alias/aws/sns, whose policy cannot grant them
    statements = resources["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    publishers = next(s for s in statements if s["Sid"] == "AlarmPublishersEncrypt")
    assert set(publishers["Principal"]["Service"]) == {"events.amazonaws.com", "cloudwatch.amazonaws.com"}
    assert set(publishers["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    pattern = resources["RotationFailedRule"]["Properties"]["EventPattern"]
    assert set(pattern["detail"]["eventName"]) == {"RotationFailed", "RotationAbandoned", "TestRotationFailed"}
    prefix = pattern["detail"]["additionalEventData"]["SecretId"][0]["prefix"]["Fn::Sub"]
    assert prefix.endswith(":secret:${AppName}/${Environment}/")
    delivery = resources["RotationAlarmDeliveryAlarm"]["Properties"]
    assert (delivery["Namespace"], delivery["MetricName"]) == ("AWS/Events", "FailedInvocations")
    assert delivery["Dimensions"] == [{"Name": "RuleName", "Value": {"Ref": "RotationFailedRule"}}]


SECRET_ARN_PREFIX = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:"


@pytest.mark.parametrize(
    ("parameter", "value", "accepted"),
    [
        ("KmsKeyArn", "", True),
        ("KmsKeyArn", "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", True),
        ("KmsKeyArn", "alias/amply-secrets", False),
        ("KmsKeyArn", "arn:aws:kms:eu-central-1:123456789012:alias/amply-secrets", False),
        (
            "PostgresMasterSecretArn",
            "arn:aws:secretsmanager:eu-central-1:123456789012:secret:amply/prod/db-AbC123",
            True,
        ),
        ("PostgresMasterSecretArn", "arn:aws:secretsmanager:eu-central-1:123456789012:secret:amply/prod/db", False),
        ("RedisAdminSecretArn", "amply/prod/redis-admin", False),
        ("AppName", "a" * 26, True),
        ("AppName", "a" * 27, False),
    ],
)
def test_parameters_that_cannot_deploy_are_refused(parameter: str, value: str, accepted: bool) -> None:
    import re

    spec = load_template()["Parameters"][parameter]
    assert bool(re.fullmatch(spec["AllowedPattern"], value)) is accepted


def test_the_longest_app_name_keeps_the_keyring_bucket_name_within_63_characters() -> None:
    longest = f"{'a' * 26}-staging-signing-keyring-123456789012"
    assert len(longest) <= 63


def test_subnets_without_security_groups_are_refused() -> None:
    rule = load_template()["Rules"]["SubnetsNeedSecurityGroups"]
    assert rule["RuleCondition"] == {"Fn::Not": [{"Fn::Contains": [{"Ref": "DatabaseSubnetIds"}, ""]}]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Contains": [{"Ref": "DatabaseSecurityGroupIds"}, ""]}]}


_PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "eu-central-1", "AWS::AccountId": "123456789012"}
_ROLES = {name: f"arn:aws:iam::123456789012:role/{name}" for name in ("PostgresFunctionRole", "RedisFunctionRole")}


def test_a_created_password_key_lets_only_the_two_rotation_roles_derive_passwords() -> None:
    from tests.iam import Renderer

    template = load_template()
    parameters = {"Environment": "prod", "PasswordMacKeyArn": "create"}
    renderer = Renderer(template, parameters, {**_PSEUDO, **{f"{k}.Arn": v for k, v in _ROLES.items()}})
    key = template["Resources"]["PasswordMacKey"]
    assert renderer.condition(key["Condition"])
    assert not Renderer(template, {"Environment": "prod"}, _PSEUDO).condition(key["Condition"])  # default: none
    properties = renderer.render(key["Properties"])
    assert (properties["KeySpec"], properties["KeyUsage"]) == ("HMAC_256", "GENERATE_VERIFY_MAC")
    statements = properties["KeyPolicy"]["Statement"]
    using = [s for s in statements if any(a in ("kms:GenerateMac", "kms:*", "kms:CreateGrant") for a in s["Action"]
                                          if isinstance(s["Action"], list))]  # fmt: skip
    using += [s for s in statements if s["Action"] in ("kms:GenerateMac", "kms:*", "kms:CreateGrant")]
    assert len(using) == 1
    assert sorted(using[0]["Principal"]["AWS"]) == sorted(_ROLES.values())
    assert using[0]["Condition"] == {"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}}
    for function in ("PostgresFunction", "RedisFunction"):
        variables = renderer.render(template["Resources"][function]["Properties"]["Environment"]["Variables"])
        assert variables["ROTATION_PASSWORD_MAC_KEY_ARN"] == "<PasswordMacKey.Arn>"


def test_an_existing_password_key_is_granted_to_the_two_rotation_roles_only() -> None:
    from tests.iam import Call, allows, rendered_policies

    key = "arn:aws:kms:eu-central-1:123456789012:key/0b4f1e6a-7d3c-4c56-9a7e-1f2e3d4c5b6a"
    grants = rendered_policies({"Environment": "prod", "PasswordMacKeyArn": key}, _PSEUDO)
    hmac = (("kms:MacAlgorithm", "HMAC_SHA_256"),)
    derive = {g.function for g in grants if allows(g.statement, Call(g.function, "kms:GenerateMac", key, hmac))}
    assert derive == {"PostgresFunction", "RedisFunction"}
    other = key.replace("0b4f1e6a", "11111111")
    assert not any(allows(g.statement, Call(g.function, "kms:GenerateMac", other, hmac)) for g in grants)
