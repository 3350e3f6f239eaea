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
import json
import secrets
import tomllib
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from rotator.staging import STAGED_LABEL
from sandbox.functions import PROJECT_ROOT, load_template
from sandbox.harness import REDIS_APP_RULES, Targets
from sandbox.moto_server import ACCOUNT_ID, REGION
from sandbox.rotate_secret import RotateSecretEmulator, lambda_arn
from sandbox.seed import seed_keyring, seed_postgres_role, seed_redis_user, seed_signing_key, seed_value
from tests.helpers import KEYRING_BUCKET, PostgresTarget, RedisTarget, engine_for
from tests.iam import Call, Grant, Renderer, allows, rendered_policies
from tests.leak_canary import register_secret, secret_parts

PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID}
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

    def before(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        function = _FUNCTION.get()
        if function is None:
            return
        service, operation = model.service_model.signing_name, model.name
        action = f"{service}:{operation}"
        if service == "secretsmanager":
            description = self._sm.describe_secret(SecretId=params["SecretId"])
            context = ()
            if description.get("RotationLambdaARN"):
                context = (("secretsmanager:resource/AllowRotationLambdaArn", description["RotationLambdaARN"]),)
            self.calls.append(Call(function, action, description["ARN"], context))
            key = description.get("KmsKeyId")
            if key and operation in ("GetSecretValue", "PutSecretValue"):
                kms_action = "kms:Decrypt" if operation == "GetSecretValue" else "kms:GenerateDataKey"
                via = (("kms:ViaService", f"secretsmanager.{REGION}.amazonaws.com"),)
                self.calls.append(Call(function, kms_action, key, via, implied="KMS via Secrets Manager"))
        elif service == "s3":
            self.calls.append(Call(function, action, f"arn:aws:s3:::{params['Bucket']}/{params['Key']}"))
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
) -> None:
    assert postgres.server is not None
    kms_key = boto3.client("kms").create_key(Description="rotation IAM test")["KeyMetadata"]["Arn"]
    masters = [_replace(sm_client, f"amply/prod/database-master-{n}", postgres.master_url, kms_key) for n in "ab"]
    admin_url = f"redis://admin:{redis_primary.admin_password}@{redis_primary.host}:{redis_primary.port}/0"
    admins = [_replace(sm_client, f"amply/prod/redis-admin-{n}", admin_url, kms_key) for n in "ab"]
    keyring_key = "checkpoint-signing-key/jwks.json"
    parameters = {
        **_prod_parameters(), "KmsKeyArn": kms_key, "KeyringBucketName": KEYRING_BUCKET,
        "PostgresMasterSecretArn": masters[0], "PostgresMasterSecretArns": masters[1],
        "RedisAdminSecretArn": admins[0], "RedisAdminSecretArns": admins[1],
        "PostgresCaBundle": str(postgres.server.ca_path),
    }  # fmt: skip
    assert parameters["Environment"] == "prod"
    grants = rendered_policies(parameters, PSEUDO)
    template = load_template()
    functions = {
        logical: (resource["Properties"]["CodeUri"].rstrip("/").rsplit("/", 1)[1], resource["Properties"])
        for logical, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    renderer = Renderer(template, parameters, PSEUDO)
    handlers, names = {}, {}
    for logical, (kind, props) in functions.items():
        name = renderer.render(props["FunctionName"])
        env = {**renderer.render(template["Globals"]["Function"]["Environment"]["Variables"]),
               **renderer.render(props.get("Environment", {}).get("Variables", {}))}  # fmt: skip
        # "" declares a variable without setting it (the default): here that is the sandbox's own setting.
        env = {key: str(value) for key, value in env.items() if str(value) != ""}
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
        # The default master, then a master the secret names.
        ("database-url", "postgres", [seed_postgres_role(pg_url, f"iam_{secrets.token_hex(3)}"),
                                      seed_postgres_role(pg_url, f"iam_{secrets.token_hex(3)}", masterarn=masters[1])]),
        ("redis-url", "redis", [
            seed_redis_user(redis_host, redis_port, redis_password, _unique("iam"), rules=REDIS_APP_RULES),
            None,
        ]),
        ("checkpoint-signing-key", "signing_key", [seed_signing_key("ES256", key_id=f"{_unique('iam')}-2025")]),
        ("stripe-secret-key", "stripe", [live_key()]),
        ("stripe-webhook-secret", "stripe", ["whsec_" + secrets.token_urlsafe(24)]),
    ]  # fmt: skip
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
                if kind == "stripe":
                    staged = live_key() if short == "stripe-secret-key" else "whsec_" + secrets.token_urlsafe(24)
                    register_secret(staged)
                    sm_client.put_secret_value(SecretId=arn, SecretString=staged, VersionStages=[STAGED_LABEL])
                result = emulator.rotate(arn)
                assert result.ok, (short, round_, result.error)

    calls = recorder.calls
    assert {call.function for call in calls} == set(functions), "a function made no call"
    assert any(call.implied == "S3 tells a missing object from a denied one" for call in calls)
    assert any(call.action == "kms:GenerateDataKey" for call in calls)
    denied = [
        call for call in calls if not any(g.function == call.function and allows(g.statement, call) for g in grants)
    ]
    assert denied == [], "\n".join(f"{c.function}: {c.action} on {c.resource} {dict(c.context)}" for c in denied)
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
