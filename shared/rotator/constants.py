"""The rotation protocol's words: its steps, the operator's actions, the staging labels that carry meaning.

Environment variable names live with what reads them: ``rotator.settings`` (every function),
``rotator.consumers.settings`` and each kind's ``settings`` module.
"""

from enum import StrEnum

__all__ = ["Action", "Stage", "Step"]


class Step(StrEnum):
    """The four steps Secrets Manager invokes, in order."""

    CREATE = "createSecret"
    SET = "setSecret"
    TEST = "testSecret"
    FINISH = "finishSecret"


class Action(StrEnum):
    """What an operator asks of a rotation function outside the protocol (``rotation revoke-previous``, and
    ``rotation rollback``'s proof that AWSPREVIOUS still works)."""

    REVOKE_PREVIOUS = "revokePrevious"
    CHECK_PREVIOUS = "checkPrevious"


class Stage(StrEnum):
    """Staging labels that carry meaning in the rotation protocol."""

    CURRENT = "AWSCURRENT"
    PENDING = "AWSPENDING"
    PREVIOUS = "AWSPREVIOUS"
