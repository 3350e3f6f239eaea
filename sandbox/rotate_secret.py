"""Secrets Manager's RotateSecret, emulated faithfully on top of moto's backend.

moto cannot stage a version without a value through its API, can only invoke
a Lambda through Docker, and promotes even when a step fails. This emulator
does what Secrets Manager does instead:

* with ``RotateImmediately=false``, tests the configuration the way Secrets
  Manager does: a temporary AWSPENDING version holding a copy of AWSCURRENT,
  testSecret alone, then the version is removed;
* refuses a new rotation while AWSPENDING sits on a version other than
  AWSCURRENT ("previous rotation isn't complete"), unless it is asked to
  re-drive that very version, as Secrets Manager's own retry does;
* stages an empty version labelled AWSPENDING under a fresh token;
* invokes the real handler for createSecret, setSecret, testSecret and
  finishSecret with the same token, stopping at the first failing step and
  leaving AWSCURRENT untouched;
* keeps sub-second times, and ListSecretVersionIds reports when each version
  was created (moto answers the time of the call): when AWSCURRENT became
  current decides which consumer tasks hold an older value.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rotator.constants import Stage, Step
from sandbox.moto_server import ACCOUNT_ID, REGION

__all__ = [
    "LambdaContext",
    "model_current_default",
    "model_immutable_versions",
    "model_version_dates",
    "RotateSecretEmulator",
    "RotationInProgressError",
    "RotationResult",
    "lambda_arn",
]


def _error(code: str, message: str) -> dict[str, Any]:
    """An error body as the Secrets Manager JSON protocol writes it."""
    return {"__type": code, "Message": message}


Handler = Callable[[dict[str, Any], Any], Any]


def lambda_arn(function: str) -> str:
    """The ARN the sandbox gives the rotation function named ``function``."""
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}"


@dataclass(frozen=True)
class LambdaContext:
    """What Lambda's context object tells a handler about the invocation (the fields the suite reads)."""

    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def function_name(self) -> str:
        return self.invoked_function_arn.split(":")[6]


class RotationInProgressError(Exception):
    """RotateSecret refused: AWSPENDING is on a version other than AWSCURRENT."""

    def __init__(self, secret_id: str, pending_version: str) -> None:
        super().__init__(
            f"a previous rotation of {secret_id} isn't complete (AWSPENDING on {pending_version}); "
            "it will be reattempted"
        )
        self.pending_version = pending_version


@dataclass
class RotationResult:
    """What one RotateSecret call did."""

    secret_id: str
    token: str
    old_version: str | None
    completed_steps: list[Step] = field(default_factory=list)
    failed_step: Step | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.failed_step is None


def model_version_dates() -> None:
    """ListSecretVersionIds answers each version's creation time, to the millisecond, as Secrets Manager does
    (idempotent)."""
    import json

    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.list_secret_version_ids
    if getattr(original, "dated", False):
        return

    def list_secret_version_ids(self: Any, secret_id: str) -> str:
        answer = json.loads(original(self, secret_id))
        versions = self.secrets[secret_id].versions
        for entry in answer["Versions"]:
            entry["CreatedDate"] = versions[entry["VersionId"]].get("createdate", entry["CreatedDate"])
        return json.dumps(answer)

    list_secret_version_ids.dated = True  # type: ignore[attr-defined]
    add_secret = SecretsManagerBackend._add_secret

    def _add_secret(self: Any, secret_id: str, *args: Any, **kwargs: Any) -> Any:
        """moto dates a new version to the whole second; Secrets Manager to the millisecond."""
        before = self.secrets[secret_id].versions if secret_id in self.secrets else {}
        known = {version_id: id(version) for version_id, version in before.items()}
        answer = add_secret(self, secret_id, *args, **kwargs)
        now = time.time()
        for version_id, version in answer[0].versions.items():
            if known.get(version_id) != id(version):
                version["createdate"] = now
        return answer

    SecretsManagerBackend._add_secret = _add_secret  # type: ignore[method-assign]
    SecretsManagerBackend.list_secret_version_ids = list_secret_version_ids  # type: ignore[method-assign]


def model_immutable_versions() -> None:
    """PutSecretValue never changes a version that holds a value, AWSPENDING included (idempotent).

    Secrets Manager: "If a version with this value already exists and the version of the SecretString and
    SecretBinary values are different from those in the request, then the request fails because you can't modify
    a secret version" (``PutSecretValue.ClientRequestToken``). moto lets an AWSPENDING version be overwritten,
    so two createSecret invocations of one rotation could each store their own value.
    """
    from moto.secretsmanager.exceptions import ResourceExistsException
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend._check_with_existing_secrets_and_versions
    if getattr(original, "immutable", False):
        return

    def check(
        self: Any, secret_name: str, client_request_token: str | None, secret_string: str | None,
        secret_binary: str | None, on_create: bool = False,
    ) -> Any:  # fmt: skip
        secret = self.secrets.get(secret_name)
        versions = getattr(secret, "versions", {})
        version = versions.get(client_request_token) if client_request_token else None
        if version is not None and (version.get("secret_string"), version.get("secret_binary")) != (None, None):
            if (version.get("secret_string"), version.get("secret_binary")) == (secret_string, secret_binary):
                return secret  # the same value again: ignored
            raise ResourceExistsException(
                f"You can't use ClientRequestToken {client_request_token} because that value is already in use "
                f"for a version of secret {secret.arn}."
            )
        return original(self, secret_name, client_request_token, secret_string, secret_binary, on_create)

    check.immutable = True  # type: ignore[attr-defined]
    SecretsManagerBackend._check_with_existing_secrets_and_versions = check  # type: ignore[method-assign]


def model_current_default() -> None:
    """GetSecretValue without a stage or version answers AWSCURRENT wherever UpdateSecretVersionStage moved it
    (idempotent).

    Secrets Manager: "If you don't specify either a VersionStage or VersionId, then Secrets Manager returns the
    AWSCURRENT version" (``GetSecretValue``). moto answers the version it last made current itself, so after a
    label moved by hand (finishSecret, ``rotation rollback``) an ECS task launched in the sandbox read the value
    rotated away from.
    """
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.update_secret_version_stage
    if getattr(original, "follows_current", False):
        return

    def update_secret_version_stage(
        self: Any, secret_id: str, version_stage: str, remove_from_version_id: str, move_to_version_id: str
    ) -> Any:
        answer = original(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        if version_stage == Stage.CURRENT and move_to_version_id:
            self.secrets[secret_id].set_default_version_id(move_to_version_id)
        return answer

    update_secret_version_stage.follows_current = True  # type: ignore[attr-defined]
    SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage  # type: ignore[method-assign]


class RotateSecretEmulator:
    """RotateSecret for the in-process moto server; handlers are looked up by rotation Lambda ARN."""

    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        model_version_dates()
        model_immutable_versions()
        model_current_default()
        self._handlers = dict(handlers)
        self._lock = threading.Lock()
        # EventBridge's targets for Secrets Manager's RotationSucceeded (delivered asynchronously, as there).
        self.on_success: list[Callable[[dict[str, Any]], Any]] = []

    @staticmethod
    def _backend() -> Any:
        from moto.backends import get_backend

        return get_backend("secretsmanager")[ACCOUNT_ID][REGION]

    def _secret(self, secret_id: str) -> Any:
        return self._backend().secrets[secret_id]

    def also_as(self, arn: str, function: str) -> None:
        """Answer for ``function`` under another ARN too (the one ``sam local invoke`` gives the function)."""
        self._handlers[arn] = self._handlers[lambda_arn(function)]

    def wrap_functions(self, wrapper: Callable[[Handler], Handler]) -> None:
        """Replace every rotation function by ``wrapper(function)`` (a fault injected around its invocations)."""
        self._handlers = {arn: wrapper(handler) for arn, handler in self._handlers.items()}

    def enable_rotation(
        self, secret_id: str, function: str, *, schedule: str | None = "rate(30 days)", arn: str | None = None
    ) -> None:
        """Turn rotation on with ``function`` (or the function at ``arn``) as the rotation Lambda, without
        rotating; ``schedule`` is a ``rate(N days)`` expression, or None for a secret rotated by hand."""
        secret = self._secret(secret_id)
        secret.rotation_requested = True
        secret.rotation_enabled = True
        secret.rotation_lambda_arn = arn or lambda_arn(function)
        days = int(schedule.removeprefix("rate(").split()[0]) if schedule else 0
        secret.auto_rotate_after_days = days
        secret.next_rotation_date = int(time.time()) + days * 86400 if days else None

    def schedule_next(self, secret_id: str, at: float) -> None:
        """Set when the next rotation is due (``NextRotationDate``, epoch seconds): a past time makes it overdue."""
        self._secret(secret_id).next_rotation_date = int(at)

    def test_configuration(self, secret_id: str) -> None:
        """Secrets Manager's test of a rotation configured without rotating: testSecret alone on a temporary
        AWSPENDING copy of AWSCURRENT, removed afterwards whatever happened. Raises what testSecret raised."""
        secret = self._secret(secret_id)
        with self._lock:
            stuck = self.stuck_pending(secret_id)
            if stuck is not None:
                raise RotationInProgressError(secret.name, stuck)
            current = self.version_with(secret_id, Stage.CURRENT)
            if current is None:
                raise ValueError(f"{secret.name} has no AWSCURRENT version to test with")
            token = str(uuid.uuid4())
            copy = dict(secret.versions[current])
            copy.update(version_id=token, version_stages=[Stage.PENDING.value], createdate=time.time())
            secret.versions[token] = copy
        try:
            self.invoke(secret_id, token, Step.TEST)
        finally:
            with self._lock:
                secret.versions.pop(token, None)

    def configure_rotation(
        self, secret_id: str, function: str, *, rotate_immediately: bool, schedule: str | None = "rate(30 days)"
    ) -> RotationResult | None:
        """RotateSecret with a rotation configuration: rotate now, or (RotateImmediately=false) only test it.

        A failed configuration test leaves rotation as it was and raises what testSecret raised.
        """
        secret = self._secret(secret_id)
        before = (secret.rotation_enabled, secret.rotation_lambda_arn, secret.auto_rotate_after_days)
        self.enable_rotation(secret_id, function, schedule=schedule)
        if rotate_immediately:
            return self.rotate(secret_id)
        try:
            self.test_configuration(secret_id)
        except Exception:
            secret.rotation_enabled, secret.rotation_lambda_arn, secret.auto_rotate_after_days = before
            raise
        return None

    def disable_rotation(self, secret_id: str) -> None:
        """CancelRotateSecret's effect on the configuration."""
        self._secret(secret_id).rotation_enabled = False

    def stages(self, secret_id: str) -> dict[str, list[str]]:
        """Version id → staging labels, as DescribeSecret reports them."""
        return {vid: list(v["version_stages"]) for vid, v in self._secret(secret_id).versions.items()}

    def version_with(self, secret_id: str, stage: Stage) -> str | None:
        """The version holding ``stage``, if any."""
        for version_id, stages in self.stages(secret_id).items():
            if stage in stages:
                return version_id
        return None

    def stuck_pending(self, secret_id: str) -> str | None:
        """The version holding AWSPENDING without AWSCURRENT, if any."""
        for version_id, stages in self.stages(secret_id).items():
            if Stage.PENDING in stages and Stage.CURRENT not in stages:
                return version_id
        return None

    def begin(self, secret_id: str, *, token: str | None = None) -> str:
        """RotateSecret's first half: stage an empty AWSPENDING version (or accept the stuck ``token``)."""
        with self._lock:  # two concurrent RotateSecret calls: exactly one stages a version
            return self._begin(secret_id, token)

    def _begin(self, secret_id: str, token: str | None) -> str:
        secret = self._secret(secret_id)
        stuck = self.stuck_pending(secret_id)
        if stuck is not None and token != stuck:
            raise RotationInProgressError(secret.name, stuck)
        if not secret.rotation_enabled or not secret.rotation_lambda_arn:
            raise ValueError(f"rotation is not configured for {secret.name}")
        if token is None or token not in secret.versions:
            token = token or str(uuid.uuid4())
            secret.remove_version_stages_from_old_versions([Stage.PENDING.value])
            secret.versions[token] = {
                "createdate": time.time(),
                "version_id": token,
                "version_stages": [Stage.PENDING.value],
            }
        return token

    def invoke(self, secret_id: str, token: str, step: Step, *, rotation_token: str | None = None) -> None:
        """Invoke the secret's rotation function for one step, as Secrets Manager does."""
        secret = self._secret(secret_id)
        event = {"Step": step.value, "SecretId": secret.arn, "ClientRequestToken": token}
        if rotation_token is not None:
            event["RotationToken"] = rotation_token
        self._handlers[secret.rotation_lambda_arn](event, LambdaContext(secret.rotation_lambda_arn))

    def rotate(self, secret_id: str, *, token: str | None = None) -> RotationResult:
        """RotateSecret: stage a new empty AWSPENDING version (or re-drive ``token``) and run the four steps."""
        secret = self._secret(secret_id)
        old_version = self.version_with(secret_id, Stage.CURRENT)
        token = self.begin(secret_id, token=token)
        result = RotationResult(secret.name, token, old_version)
        rotation_token = str(uuid.uuid4())
        for step in Step:  # in protocol order
            try:
                self.invoke(secret_id, token, step, rotation_token=rotation_token)
            except Exception as exc:
                result.failed_step = step
                result.error = exc
                break
            result.completed_steps.append(step)
        if result.ok:
            secret.last_rotation_date = time.time()  # Secrets Manager keeps sub-second times
            days = secret.auto_rotate_after_days
            secret.next_rotation_date = int(time.time()) + days * 86400 if days else None
            succeeded = {
                "source": "aws.secretsmanager", "detail-type": "AWS Service Event via CloudTrail",
                "detail": {"eventName": "RotationSucceeded", "additionalEventData": {"SecretId": secret.arn}},
            }  # fmt: skip
            for target in self.on_success:
                threading.Thread(target=target, args=(succeeded, None), daemon=True).start()
        return result

    def handle_api(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The RotateSecret API call: configure, stage, answer at once, run the steps in the background."""
        secret_id = str(body.get("SecretId", ""))
        try:
            secret = self._secret(secret_id)
        except KeyError:
            return 400, _error("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
        before = (secret.rotation_enabled, secret.rotation_lambda_arn, secret.auto_rotate_after_days)
        if body.get("RotationLambdaARN"):
            secret.rotation_lambda_arn = str(body["RotationLambdaARN"])
            secret.rotation_requested = secret.rotation_enabled = True
        rules = body.get("RotationRules") or {}
        if rules.get("AutomaticallyAfterDays"):
            secret.auto_rotate_after_days = int(rules["AutomaticallyAfterDays"])
        if not secret.rotation_enabled or not secret.rotation_lambda_arn:
            return 400, _error(
                "InvalidRequestException", "No Lambda rotation function ARN is associated with this secret."
            )
        if secret.rotation_lambda_arn not in self._handlers:
            return 400, _error(
                "ResourceNotFoundException", f"Resource not found for ARN '{secret.rotation_lambda_arn}'."
            )
        token = body.get("ClientRequestToken")
        stuck = self.stuck_pending(secret_id)
        if stuck is not None and token != stuck:
            threading.Thread(target=self.rotate, args=(secret_id,), kwargs={"token": stuck}, daemon=True).start()
            return 400, _error(
                "InvalidRequestException", "A previous rotation isn't complete. That rotation will be reattempted."
            )
        if body.get("RotateImmediately") is False:
            try:
                self.test_configuration(secret_id)
            except Exception as exc:
                # A configuration whose test fails is not kept.
                secret.rotation_enabled, secret.rotation_lambda_arn, secret.auto_rotate_after_days = before
                return 400, _error(
                    "InvalidRequestException", f"The rotation configuration test (testSecret) failed: {exc}"
                )
            return 200, {"ARN": secret.arn, "Name": secret.name}
        try:
            token = self.begin(secret_id, token=token)
        except RotationInProgressError:
            return 400, _error("InvalidRequestException", "A previous rotation isn't complete.")
        threading.Thread(target=self.rotate, args=(secret_id,), kwargs={"token": token}, daemon=True).start()
        return 200, {"ARN": secret.arn, "Name": secret.name, "VersionId": token}

    def invoke_function(self, function: str, event: dict[str, Any]) -> tuple[bool, Any]:
        """Lambda's Invoke of a rotation function by name or ARN: (failed, the result or Lambda's error body)."""
        arn = function if function.startswith("arn:") else lambda_arn(function)
        handler = self._handlers.get(arn)
        if handler is None:
            return True, {"errorType": "ResourceNotFoundException", "errorMessage": f"no function {function}"}
        try:
            return False, handler(event, LambdaContext(arn))
        except Exception as exc:  # what Lambda reports of an unhandled error: its type and message
            return True, {"errorType": type(exc).__name__, "errorMessage": str(exc)}

    def function_configuration(self, function: str) -> dict[str, Any] | None:
        """Lambda's GetFunctionConfiguration of a rotation function (name or ARN), or None for another function."""
        from sandbox.functions import rotation_timeout

        arn = function if function.startswith("arn:") else lambda_arn(function)
        if arn not in self._handlers:
            return None
        return {"FunctionName": arn.rsplit(":", 1)[-1], "FunctionArn": arn, "Timeout": rotation_timeout()}

    def rotate_converging(self, secret_id: str, *, retries: int, pause: float = 0.0) -> RotationResult:
        """RotateSecret, then Secrets Manager's retries of that same rotation while it fails (a managed resource
        still ``modifying``, a guard's retryable refusal): "A previous rotation isn't complete. That rotation will
        be reattempted." How many retries, and how far apart, AWS does not document: ``retries`` and ``pause`` are
        the caller's assumption (docs/emulator-rules.md)."""
        result = self.rotate(secret_id)
        for _ in range(retries):
            if result.ok:
                break
            time.sleep(pause)
            result = self.retry(secret_id)
        return result

    def retry(self, secret_id: str) -> RotationResult:
        """Secrets Manager's retry of an unfinished rotation: same token, all four steps again."""
        stuck = self.stuck_pending(secret_id)
        if stuck is None:
            raise ValueError(f"no unfinished rotation of {secret_id} to retry")
        return self.rotate(secret_id, token=stuck)
