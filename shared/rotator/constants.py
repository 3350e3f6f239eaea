"""Protocol words and every environment variable name the suite reads."""

from enum import StrEnum


class Step(StrEnum):
    """The four steps Secrets Manager invokes, in order."""

    CREATE = "createSecret"
    SET = "setSecret"
    TEST = "testSecret"
    FINISH = "finishSecret"


class Stage(StrEnum):
    """Staging labels that carry meaning in the rotation protocol."""

    CURRENT = "AWSCURRENT"
    PENDING = "AWSPENDING"
    PREVIOUS = "AWSPREVIOUS"


STEPS_IN_ORDER: tuple[Step, ...] = (Step.CREATE, Step.SET, Step.TEST, Step.FINISH)

# Secrets Manager client.
ENV_SM_CONNECT_TIMEOUT = "ROTATION_SM_CONNECT_TIMEOUT"
ENV_SM_READ_TIMEOUT = "ROTATION_SM_READ_TIMEOUT"
ENV_SM_MAX_ATTEMPTS = "ROTATION_SM_MAX_ATTEMPTS"

# Password generation policy.
ENV_PASSWORD_LENGTH = "ROTATION_PASSWORD_LENGTH"
ENV_EXCLUDE_CHARACTERS = "ROTATION_EXCLUDE_CHARACTERS"
ENV_REQUIRE_EACH_TYPE = "ROTATION_REQUIRE_EACH_TYPE"

# session_secret.
ENV_RETAINED_KEYS = "ROTATION_RETAINED_KEYS"

# Observability (names owned by Powertools; listed so defaults live in one place).
ENV_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
ENV_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"

DEFAULT_SERVICE_NAME = "secret-rotation"
DEFAULT_METRICS_NAMESPACE = "SecretRotation"
