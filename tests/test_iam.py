"""IAM proven, not assumed: every AWS call the functions make is allowed by template.yaml, and nothing unused
is granted.

The secrets of the inventory are created under the names the prod parameters of samconfig.toml give
(``amply/prod/…``), encrypted with a customer KMS key, with masters and admins configured both ways (the
default and the named lists). Each function rotates its secrets in the sandbox while a botocore hook records
every call it makes. AWS also authorizes calls no SDK call shows: KMS on behalf of Secrets Manager
(``kms:ViaService``), and ``s3:ListBucket`` when the keyring object does not exist yet (without it S3
answers 403, not 404). The template, rendered with those parameters, must allow every call and every
implied authorization, and each statement must be needed by at least one of them.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import json
import os
import secrets
import tomllib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from rotator.consumers.refresh import refresh_handler
from rotator.core.staging import STAGED_LABEL
from rotator.errors import StaleConsumersError
from rotator.freshness import freshness_handler
from sandbox.ecs_world import add_container_host, replace_tasks, serve_secret
from sandbox.functions import PROJECT_ROOT, load_template, refresh_function
from sandbox.harness import REDIS_APP_RULES, Targets, by_label
from sandbox.moto_server import ACCOUNT_ID, REGION
from sandbox.rds import RdsDatabases
from sandbox.rotate_secret import RotateSecretEmulator, lambda_arn
from sandbox.seed import seed_keyring, seed_postgres_role, seed_redis_user, seed_signing_key, seed_value
from tests.helpers import KEYRING_BUCKET, PostgresTarget, RedisTarget, engine_for
from tests.iam import Call, Grant, Renderer, allows, denies, rendered_policies
from tests.leak_canary import register_secret, secret_parts

PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID}
MANAGED = ("ElastiCache RBAC user", "ElastiCache AUTH token", "MemoryDB user")
_FUNCTION: contextvars.ContextVar[str | None] = contextvars.ContextVar("iam_function", default=None)


def _prod_parameters() -> dict[str, str]:
    config = tomllib.loads((PROJECT_ROOT / "samconfig.toml").read_text())
    overrides = config["prod"]["deploy"]["parameters"]["parameter_overrides"]
    return {key: value.strip('"') for key, value in (item.split("=", 1) for item in overrides.split())}


class Recorder:
    """A botocore hook on the default session: each call a function makes, while that function runs."""

    def __init__(self, sm_client: Any) -> None:
        self.calls: list[Call] = []
        self._sm = sm_client
        self._sns = boto3.client("sns")

    def before(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        function = _FUNCTION.get()
        if function is None:
            return
        service, operation = model.service_model.signing_name, model.name
        action = f"{service}:{operation}"
        if service == "secretsmanager" and "SecretId" not in params:  # ListSecrets: no resource
            self.calls.append(Call(function, action, "*"))
        elif service == "secretsmanager":
            description = self._sm.describe_secret(SecretId=params["SecretId"])
            if operation == "RotateSecret":  # the API reference: the caller also needs to invoke the function
                self.calls.append(Call(function, "lambda:InvokeFunction", description["RotationLambdaARN"],
                                       implied="RotateSecret invokes the rotation function as its caller"))  # fmt: skip
            context = ()
            if description.get("RotationLambdaARN"):
                context = (("secretsmanager:resource/AllowRotationLambdaArn", description["RotationLambdaARN"]),)
            if operation == "TagResource":
                context = (*context, ("aws:TagKeys", ",".join(tag["Key"] for tag in params["Tags"])))
            self.calls.append(Call(function, action, description["ARN"], context))
            key = description.get("KmsKeyId")
            if key and operation in ("GetSecretValue", "PutSecretValue"):
                kms_action = "kms:Decrypt" if operation == "GetSecretValue" else "kms:GenerateDataKey"
                via = (("kms:ViaService", f"secretsmanager.{REGION}.amazonaws.com"),)
                self.calls.append(Call(function, kms_action, key, via, implied="KMS via Secrets Manager"))
        elif service == "ecs" and operation == "ListClusters":
            self.calls.append(Call(function, action, "*"))
        elif service == "ecs":
            self.calls.extend(_ecs_calls(function, operation, params))
        elif service == "logs":
            self.calls.append(
                Call(function, action, f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{params['logGroupName']}")
            )
        elif service == "lambda":  # the Invoke API is authorized as lambda:InvokeFunction
            self.calls.append(Call(function, "lambda:InvokeFunction", str(params["FunctionName"])))
        elif service == "sns":
            topic = params["TopicArn"]
            self.calls.append(Call(function, action, topic))
            key = self._sns.get_topic_attributes(TopicArn=topic)["Attributes"].get("KmsMasterKeyId")
            for kms_action in ("kms:GenerateDataKey", "kms:Decrypt") if key else ():
                self.calls.append(Call(function, kms_action, key, implied="SNS encrypts what its publisher sends"))
        elif service == "s3":
            self.calls.append(Call(function, action, f"arn:aws:s3:::{params['Bucket']}/{params['Key']}"))
        elif service == "elasticache":
            kind, name = next((kind, params[key]) for key, kind in (("UserId", "user"), ("UserGroupId", "usergroup"),
                                                                    ("ReplicationGroupId", "replicationgroup"))
                              if key in params)  # fmt: skip
            self.calls.append(Call(function, action, f"arn:aws:elasticache:{REGION}:{ACCOUNT_ID}:{kind}:{name}"))
        elif service == "rds":  # an identifier or an ARN; IAM authorizes the ARN
            kind, name = ("db", params["DBInstanceIdentifier"]) if "DBInstanceIdentifier" in params else (
                "cluster", params["DBClusterIdentifier"])  # fmt: skip
            arn = name if name.startswith("arn:") else f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:{kind}:{name}"
            self.calls.append(Call(function, action, arn))
        elif service == "kms":  # the password key: KMS authorizes the key ARN, with the MAC algorithm asked for
            algorithm = (("kms:MacAlgorithm", str(params.get("MacAlgorithm", ""))),)
            self.calls.append(Call(function, action, str(params["KeyId"]), algorithm))
        elif service == "memorydb":
            kind, name = ("acl", params["ACLName"]) if "ACLName" in params else ("user", params["UserName"])
            self.calls.append(Call(function, action, f"arn:aws:memorydb:{REGION}:{ACCOUNT_ID}:{kind}/{name}"))
        else:
            self.calls.append(Call(function, action, "*"))

    def after(self, model: Any, http_response: Any, params: dict[str, Any] | None = None, **_: Any) -> None:
        function = _FUNCTION.get()
        if function is None or model.name != "GetObject" or http_response.status_code not in (403, 404):
            return
        bucket, key = self.calls[-1].resource.removeprefix("arn:aws:s3:::").split("/", 1)
        prefix = (("s3:prefix", key),)
        self.calls.append(Call(function, "s3:ListBucket", f"arn:aws:s3:::{bucket}", prefix,
                               implied="S3 tells a missing object from a denied one"))  # fmt: skip


def _ecs_calls(function: str, operation: str, params: dict[str, Any]) -> list[Call]:
    """An ECS call as IAM authorizes it: each service or task ARN it names (``*`` for the list calls and task
    definitions, which have none) with the ``ecs:cluster`` condition key."""
    cluster = str(params.get("cluster", "default"))
    cluster_arn = cluster if cluster.startswith("arn:") else f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:cluster/{cluster}"
    name, context = cluster_arn.rsplit("/", 1)[-1], (("ecs:cluster", cluster_arn),)
    action = f"ecs:{operation}"
    if operation == "DescribeTaskDefinition":
        return [Call(function, action, "*")]
    if operation in ("ListServices", "ListTasks"):
        return [Call(function, action, "*", context)]
    kind, ids = ("task", params["tasks"]) if operation == "DescribeTasks" else ("service", params.get("services"))
    names = [str(item).rsplit("/", 1)[-1] for item in (ids if ids is not None else [params["service"]])]
    return [Call(function, action, f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:{kind}/{name}/{n}", context) for n in names]


@contextlib.contextmanager
def _recording(sm_client: Any) -> Iterator[Recorder]:
    recorder = Recorder(sm_client)
    session = boto3._get_default_session()
    session.events.register("before-parameter-build", recorder.before)
    session.events.register("after-call", recorder.after)
    try:
        yield recorder
    finally:
        session.events.unregister("before-parameter-build", recorder.before)
        session.events.unregister("after-call", recorder.after)


def _as(function: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    def invoke(event: Any, context: Any) -> Any:
        marker = _FUNCTION.set(function)
        try:
            return handler(event, context)
        finally:
            _FUNCTION.reset(marker)

    return invoke


def _replace(sm_client: Any, name: str, value: str, kms_key: str) -> str:
    register_secret(*secret_parts(value))
    with contextlib.suppress(sm_client.exceptions.ResourceNotFoundException):
        sm_client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    return str(sm_client.create_secret(Name=name, SecretString=value, KmsKeyId=kms_key)["ARN"])


def test_the_template_allows_every_call_the_functions_make_and_nothing_more(
    targets: Targets,
    postgres: PostgresTarget,
    redis_primary: RedisTarget,
    stripe_api: Any,
    sm_client: Any,
    s3_client: Any,
    rds: RdsDatabases,
) -> None:
    assert postgres.server is not None
    rds_masters = [rds.databases[name].secret_arn for name in ("amply-ledger", "amply-reports")]
    kms_key = boto3.client("kms").create_key(Description="rotation IAM test")["KeyMetadata"]["Arn"]
    masters = [_replace(sm_client, f"amply/prod/database-master-{n}", postgres.master_url, kms_key) for n in "ab"]
    admin_url = f"redis://admin:{redis_primary.admin_password}@{redis_primary.host}:{redis_primary.port}/0"
    admins = [_replace(sm_client, f"amply/prod/redis-admin-{n}", admin_url, kms_key) for n in "ab"]
    keyring_key = "checkpoint-signing-key/jwks.json"
    # The same redis-url secret later takes each managed shape: an ElastiCache user (with its replication group),
    # an ElastiCache AUTH token, a MemoryDB user.
    managed = [by_label(f"redis ({label})").seed(targets) for label in MANAGED]
    groups = [json.loads(value)["replication_group_id"] for value in managed[:2]]
    parameters = {
        **_prod_parameters(), "KmsKeyArn": kms_key, "KeyringBucketName": KEYRING_BUCKET,
        "PostgresMasterSecretArn": masters[0], "PostgresMasterSecretArns": ",".join([masters[1], *rds_masters]),
        "PostgresMasterKmsKeyArns": sm_client.describe_secret(SecretId=rds_masters[0])["KmsKeyId"],
        "RedisAdminSecretArn": admins[0], "RedisAdminSecretArns": admins[1],
        "PostgresCaBundle": str(postgres.server.ca_path),
        "ElastiCacheUserArns": json.loads(managed[0])["user_arn"],
        "MemoryDBUserArns": json.loads(managed[2])["user_arn"],
        "ElastiCacheReplicationGroupArns": ",".join(
            f"arn:aws:elasticache:{REGION}:{ACCOUNT_ID}:replicationgroup:{group}" for group in groups
        ),
        "MinimumOverlapSeconds": 0,  # the shapes below rotate back to back (the overlap has its own test)
    }  # fmt: skip
    assert parameters["Environment"] == "prod"
    assert parameters["PasswordMacKeyArn"] == "create"  # prod derives passwords with a key the stack makes
    password_key = boto3.client("kms").create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    alarm_key = boto3.client("kms").create_key(Description="alarm topic")["KeyMetadata"]["Arn"]
    topic = boto3.client("sns").create_topic(
        Name="amply-prod-rotation-alarms", Attributes={"KmsMasterKeyId": alarm_key}
    )["TopicArn"]
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/amply-prod-secret-rotation"
    resources = {
        "AlarmTopic": topic, "AlarmTopicKey.Arn": alarm_key, "PasswordMacKey.Arn": password_key["Arn"],
        "PostgresFunctionRole.Arn": f"{role}-PostgresFunctionRole", "RedisFunctionRole.Arn": f"{role}-Redis",
    }  # fmt: skip
    grants = rendered_policies(parameters, {**PSEUDO, **resources})
    template = load_template()
    functions = {
        logical: (resource["Properties"]["CodeUri"].rstrip("/").rsplit("/", 1)[1], resource["Properties"])
        for logical, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    renderer = Renderer(template, parameters, {**PSEUDO, **resources})
    refresher = refresh_function(template).logical_id
    handlers, names = {}, {}
    for logical, (kind, props) in functions.items():
        name = renderer.render(props["FunctionName"])
        env = {**renderer.render(template["Globals"]["Function"]["Environment"]["Variables"]),
               **renderer.render(props.get("Environment", {}).get("Variables", {}))}  # fmt: skip
        # "" declares a variable without setting it (the default): here that is the sandbox's own setting.
        env = {key: str(value) for key, value in env.items() if str(value) != ""}
        if logical == refresher:
            refresh = _as(logical, refresh_handler({**os.environ, **env}))
            continue
        if kind == "freshness":
            freshness = _as(logical, freshness_handler({**os.environ, **env}))
            continue
        handlers[lambda_arn(name)] = _as(logical, engine_for(kind, **env))
        names[kind] = name
    emulator = RotateSecretEmulator(handlers)

    with contextlib.suppress(s3_client.exceptions.NoSuchKey):  # the keyring does not exist yet
        s3_client.delete_object(Bucket=KEYRING_BUCKET, Key=keyring_key)
    live_account = "acct_" + secrets.token_hex(4)

    def live_key() -> str:
        key = "sk_live_" + secrets.token_hex(16)
        stripe_api.add_key(key, live_account)
        return key

    pg_url, (redis_host, redis_port, redis_password) = targets.postgres_url, targets.redis
    # Each secret's values, in order; None: the current value reshaped to name its master or admin explicitly.
    inventory: list[tuple[str, str, list[str | None]]] = [
        ("session-secret", "session_secret", [seed_value("session_secret")]),
        ("api-encryption-key", "session_secret", [seed_keyring()]),
        # The default master, a master the secret names, RDS-managed masters (an instance, a cluster), then the
        # instance's read replica a single user's secret names.
        ("database-url", "postgres", [
            seed_postgres_role(pg_url, f"iam_{secrets.token_hex(3)}"),
            *(seed_postgres_role(pg_url, f"iam_{secrets.token_hex(3)}", masterarn=arn)
              for arn in (masters[1], *rds_masters)),
            _on_replica(targets, masters[1], dbInstanceIdentifier="amply-ledger-replica"),
        ]),
        ("redis-url", "redis", [
            seed_redis_user(redis_host, redis_port, redis_password, _unique("iam"), rules=REDIS_APP_RULES),
            None,
            *managed,
        ]),
        ("checkpoint-signing-key", "signing_key", [seed_signing_key("ES256", key_id=f"{_unique('iam')}-2025")]),
        ("stripe-secret-key", "stripe", [live_key()]),
        ("stripe-webhook-secret", "stripe", ["whsec_" + secrets.token_urlsafe(24)]),
    ]  # fmt: skip
    ecs, ec2 = boto3.client("ecs"), boto3.client("ec2")
    with _recording(sm_client) as recorder:
        for short, kind, values in inventory:
            name = f"amply/prod/{short}"
            for round_, value in enumerate(values):
                if round_ == 0:
                    assert value is not None
                    arn = _replace(sm_client, name, value, kms_key)
                    emulator.enable_rotation(arn, names[kind])
                else:  # a second shape of the secret, naming its master or admin
                    if value is None:
                        value = json.dumps({**_redis_json(sm_client, arn), "adminarn": admins[1]})
                    register_secret(*secret_parts(value))
                    sm_client.put_secret_value(SecretId=arn, SecretString=value, VersionStages=["AWSCURRENT"])
                if round_ == 1 and kind in ("postgres", "redis"):
                    _consumed_by_stale_tasks(ecs, ec2, arn, short)
                if round_ > 1:  # the consumer launched after the value put by hand (the managed shapes)
                    replace_tasks(ecs, "amply-prod", f"{short}-app")
                if kind == "stripe":
                    staged = live_key() if short == "stripe-secret-key" else "whsec_" + secrets.token_urlsafe(24)
                    register_secret(staged)
                    sm_client.put_secret_value(SecretId=arn, SecretString=staged, VersionStages=[STAGED_LABEL])
                result = emulator.rotate(arn)
                if round_ == 1 and kind in ("postgres", "redis"):  # the guard refreshed the stale consumer
                    assert isinstance(result.error, StaleConsumersError), (short, result.error)
                    replace_tasks(ecs, "amply-prod", f"{short}-app")
                    result = emulator.retry(arn)
                assert result.ok, (short, round_, result.error)
                if round_ == 1 and kind in ("postgres", "redis"):
                    rotated = {"detail": {"eventName": "RotationSucceeded", "additionalEventData": {"SecretId": arn}}}
                    assert refresh(rotated, None)["refreshed"] == [f"amply-prod/{short}-app"]
        failed = {
            "resources": [f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service/amply-prod/database-url-app"],
            "detail": {"eventName": "SERVICE_DEPLOYMENT_FAILED", "deploymentId": "ecs-svc/1", "reason": "x"},
        }
        assert refresh(failed, None)["alarm"] is True
        checked = freshness({"detail-type": "Scheduled Event"}, None)  # every secret above rotated just now
        assert (checked["checked"], checked["needing_rotation"]) == (len(inventory), {})

    calls = recorder.calls
    assert {call.function for call in calls} == set(functions), "a function made no call"
    assert any(call.implied == "S3 tells a missing object from a denied one" for call in calls)
    assert any(call.action == "kms:GenerateDataKey" for call in calls)
    assert {call.function for call in calls if call.action == "kms:GenerateMac"} == {
        "PostgresFunction",
        "RedisFunction",
    }
    denied = [
        call for call in calls if not any(g.function == call.function and allows(g.statement, call) for g in grants)
    ]
    assert denied == [], "\n".join(f"{c.function}: {c.action} on {c.resource} {dict(c.context)}" for c in denied)
    # The operators' guardrail (docs/operator-guardrail.json) never stops the stack's own roles.
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/amply-prod-secret-rotation-{{}}Role-AbC123dEf456"
    assert not [c for c in calls for g in GUARDRAIL if denies(g, c, role.format(c.function))]
    for grant in grants:
        grant.used_by = [call for call in calls if call.function == grant.function and allows(grant.statement, call)]
    unused = [grant for grant in grants if not grant.used_by]
    assert unused == [], "granted but never needed: " + ", ".join(f"{g.function}/{g.sid}" for g in unused)
    # Every resource a statement lists is needed too, not only the statement.
    for grant in grants:
        listed = grant.statement["Resource"]
        for resource in listed if isinstance(listed, list) else [listed]:
            single = Grant(grant.function, grant.sid, {**grant.statement, "Resource": resource})
            assert any(allows(single.statement, call) for call in grant.used_by), f"{grant.sid}: {resource} unused"


def _consumed_by_stale_tasks(ecs: Any, ec2: Any, arn: str, short: str) -> None:
    """An ECS service of the prod cluster injects the secret; its task read the value before the last rotation."""
    if "amply-prod" not in [c.rsplit("/", 1)[-1] for c in ecs.list_clusters()["clusterArns"]]:
        add_container_host(ecs, ec2, "amply-prod")
    serve_secret(ecs, "amply-prod", f"{short}-app", arn, datetime.now(UTC) - timedelta(days=1))


def _on_replica(targets: Targets, masterarn: str, **fields: str) -> str:
    """A pair whose secret points at the session's streaming replica and names its database."""
    value = seed_postgres_role(targets.postgres_url, _unique("iam"), masterarn=masterarn,
                               replica=targets.postgres_replica)  # fmt: skip
    return json.dumps({**json.loads(value), **fields})


def _unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(3)}"


def _redis_json(sm_client: Any, arn: str) -> dict[str, Any]:
    from rotator.codecs import ConnectionUrl

    url = ConnectionUrl.parse(sm_client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
    return {"host": url.host, "port": url.port, "username": url.username, "password": url.password, "ssl": False}


@pytest.mark.parametrize(
    ("resource", "allowed"),
    [
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:amply/prod/database-url-AbCdEf", True),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:amply/prod/database-url-AbCdE", False),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:amply/prod/database-url-x-AbCdEf", False),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:amply/prod/database-master-AbCdEf", False),
    ],
)
def test_the_evaluator_matches_wildcards_as_iam_does(resource: str, allowed: bool) -> None:
    statement = {
        "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
        "Resource": ["arn:aws:secretsmanager:us-east-1:123456789012:secret:amply/prod/database-url-??????"],
        "Condition": {"StringEquals": {"secretsmanager:resource/AllowRotationLambdaArn": "arn:fn"}},
    }  # fmt: skip
    call = Call(
        "F", "secretsmanager:GetSecretValue", resource, (("secretsmanager:resource/AllowRotationLambdaArn", "arn:fn"),)
    )
    assert allows(statement, call) is allowed
    wrong_function = Call(
        "F", call.action, resource, (("secretsmanager:resource/AllowRotationLambdaArn", "arn:other"),)
    )
    assert not allows(statement, wrong_function)
    assert not allows(statement, Call("F", call.action, resource))  # no rotation function on the secret


GUARDRAIL = json.loads((PROJECT_ROOT / "docs" / "operator-guardrail.json").read_text())["Statement"]
OPERATOR = f"arn:aws:iam::{ACCOUNT_ID}:role/amply-rotation-operator"


def test_the_operator_policy_allows_every_call_of_the_rotation_command_and_the_guardrail_only_operators(
    targets: Targets, sm_client: Any, moto_server: Any, stripe_api: Any, fault_free: None,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The runbook's commands, run as an operator: RotationOperatorPolicy allows each call they make (and
    nothing they never need), and docs/operator-guardrail.json denies none of them to the operator role while it
    denies invoking a function or writing a secret to any other principal."""
    from rotation_cli.__main__ import main as rotation

    functions = {kind: f"amply-prod-rotate-{kind.replace('_', '-')}" for kind in ("session_secret", "redis", "stripe")}
    handlers = {lambda_arn(name): engine_for(kind) for kind, name in functions.items()}
    emulator = RotateSecretEmulator(handlers)
    seeds = {
        "session_secret": seed_value("session_secret"),
        "redis": by_label("redis (ACL user via admin)").seed(targets),
        "stripe": "sk_live_" + secrets.token_hex(16),  # prod takes live keys only
    }
    account = "acct_" + secrets.token_hex(4)
    stripe_api.add_key(seeds["stripe"], account)
    arns = {}
    for kind, value in seeds.items():
        register_secret(*secret_parts(value))
        arns[kind] = str(sm_client.create_secret(Name=f"amply/prod/operated-{kind}-{secrets.token_hex(3)}",
                                                 SecretString=value)["ARN"])  # fmt: skip
        emulator.enable_rotation(arns[kind], functions[kind])
    moto_server.log.rotate_secret, moto_server.log.invoke_function = emulator.handle_api, emulator.invoke_function
    recorder = Recorder(sm_client)

    class RecordedSession(boto3.Session):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.events.register("before-parameter-build", recorder.before)

    monkeypatch.setattr(boto3, "Session", RecordedSession)  # the command line builds its clients from a Session
    where = ["--region", REGION, "--endpoint-url", moto_server.endpoint]
    staged = "sk_live_" + secrets.token_hex(16)
    stripe_api.add_key(staged, account)
    register_secret(staged)
    marker = _FUNCTION.set("operator")
    try:
        assert rotation(["status", "amply/prod/", *where]) == 0
        assert rotation(["rotate", arns["redis"], "--quiet", *where]) == 0
        assert rotation(["rotate", arns["session_secret"], "--quiet", *where]) == 0
        assert rotation(["rollback", arns["session_secret"], "--yes", *where]) == 0
        emulator.begin(arns["session_secret"])  # a rotation left unfinished
        assert rotation(["unstick", arns["session_secret"], "--force", "--yes", *where]) == 0
        assert rotation(["consumers", arns["redis"], *where]) == 0
        assert rotation(["revoke-previous", arns["redis"], "--yes", *where]) == 0
        monkeypatch.setattr("sys.stdin", io.StringIO(staged))
        assert rotation(["stage", arns["stripe"], "--no-rotate", *where]) == 0
    finally:
        _FUNCTION.reset(marker)
        moto_server.log.rotate_secret = moto_server.log.invoke_function = None
    capsys.readouterr()

    functions_arn = {f"{logical}.Arn": lambda_arn(name) for logical, name in (
        ("SessionSecretFunction", functions["session_secret"]), ("RedisFunction", functions["redis"]),
        ("StripeFunction", functions["stripe"]), ("PostgresFunction", "amply-prod-rotate-postgres"),
        ("SigningKeyFunction", "amply-prod-rotate-signing-key"))}  # fmt: skip
    renderer = Renderer(load_template(), _prod_parameters(), {**PSEUDO, **functions_arn})
    policy = renderer.render(load_template()["Resources"]["RotationOperatorPolicy"]["Properties"]["PolicyDocument"])
    calls = recorder.calls
    assert {call.action for call in calls} >= {"secretsmanager:RotateSecret", "lambda:InvokeFunction",
                                               "secretsmanager:PutSecretValue", "logs:FilterLogEvents"}  # fmt: skip
    denied = [call for call in calls if not any(allows(statement, call) for statement in policy["Statement"])]
    assert denied == [], [f"{c.action} on {c.resource}" for c in denied]
    unused = [s["Sid"] for s in policy["Statement"] if not any(allows(s, call) for call in calls)]
    assert unused == [], f"granted to operators but never needed: {unused}"
    assert not [c for c in calls for g in GUARDRAIL if denies(g, c, OPERATOR)], "the guardrail stops the operator"
    application = f"arn:aws:iam::{ACCOUNT_ID}:role/amply-prod-api-task"
    kept_out = {c.action for c in calls for g in GUARDRAIL if denies(g, c, application)}
    assert kept_out >= {"lambda:InvokeFunction", "secretsmanager:PutSecretValue", "secretsmanager:RotateSecret",
                        "secretsmanager:UpdateSecretVersionStage"}  # fmt: skip


def test_the_guardrail_keeps_the_promotion_record_to_the_rotation_functions() -> None:
    """Only the stack's roles write ``rotation:current-since``: an earlier time there would make the consumer
    guard count a task that holds AWSPREVIOUS as current."""
    secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:amply/prod/database-url-AbCdEf"
    stack_role = f"arn:aws:iam::{ACCOUNT_ID}:role/amply-prod-secret-rotation-PostgresFunctionRole-AbC123dEf456"

    def tagging(*keys: str) -> Call:
        return Call("F", "secretsmanager:TagResource", secret, (("aws:TagKeys", ",".join(keys)),))

    def denied(call: Call, principal: str) -> bool:
        return any(denies(statement, call, principal) for statement in GUARDRAIL)

    assert denied(tagging("team", "rotation:current-since"), OPERATOR)
    assert denied(tagging("rotation:current-since"), f"arn:aws:iam::{ACCOUNT_ID}:role/amply-prod-api-task")
    assert not denied(tagging("rotation:current-since"), stack_role)
    assert not denied(tagging("team", "rotation:consumers"), OPERATOR)


@pytest.mark.parametrize(
    ("clusters", "overlap", "recorded"), [("", "3600", True), ("", "0", False), ("amply-prod", "0", True)]
)
def test_the_promotion_record_is_granted_exactly_when_something_reads_it(
    clusters: str, overlap: str, recorded: bool
) -> None:
    """finishSecret's TagResource (rotation:current-since) is granted to the functions that revoke when the consumer
    check or the minimum overlap reads the record, and to none otherwise."""
    from tests.iam import Call, allows, rendered_policies

    grants = rendered_policies(
        {"Environment": "prod", "ConsumerClusters": clusters, "MinimumOverlapSeconds": overlap}, PSEUDO
    )
    tagging = set()
    for secret, kind in (("database-url", "postgres"), ("redis-url", "redis")):
        arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:amply/prod/{secret}-AbCdEf"
        function = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:amply-prod-rotate-{kind}"
        context = (
            ("aws:TagKeys", "rotation:current-since"),
            ("secretsmanager:resource/AllowRotationLambdaArn", function),
        )
        tagging |= {
            g.function
            for g in grants
            if allows(g.statement, Call(g.function, "secretsmanager:TagResource", arn, context))
        }
    assert tagging == ({"PostgresFunction", "RedisFunction"} if recorded else set())
