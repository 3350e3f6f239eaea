"""The labels this suite adds besides Secrets Manager's own: ``STAGED`` and ``VERIFIED``.

* ``STAGED``: a value an operator staged for the next rotation (``rotation stage``). A kind that needs one checks
  it with its ``check_staged`` (``Stageable``; createSecret and the command line call the same check); once
  promoted, the engine removes the label (``used_up``).
* ``VERIFIED``: the version testSecret proved works on the target, in this rotation. finishSecret promotes only
  that version (or one it verifies itself when the label is missing): a finishSecret invoked before setSecret or
  testSecret never promotes a password the target has never seen. The label stays on the promoted version until
  the next rotation's testSecret moves it: one ``UpdateSecretVersionStage`` per rotation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rotator.core.versions import VersionReader

__all__ = ["STAGED_LABEL", "VERIFIED_LABEL", "used_up"]

STAGED_LABEL = "STAGED"
VERIFIED_LABEL = "VERIFIED"


def used_up(versions: VersionReader[Any]) -> str | None:
    """The version still labelled STAGED whose value was just promoted, or None.

    A value staged after this rotation began is a different value: it keeps its label for the next rotation.
    """
    staged = versions.labelled(STAGED_LABEL)
    if staged is not None and staged.text == versions.pending().text:
        return staged.version_id
    return None
