"""The ``STAGED`` label: a value an operator staged for the next rotation (``rotation stage``).

This module owns the label. A kind that needs a staged value checks it with
its kind's ``check_staged`` (``Stageable``) (createSecret and the command line call the
same check); once promoted, the engine removes the label with ``used_up``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rotator.core.versions import VersionReader

__all__ = ["STAGED_LABEL", "used_up"]

STAGED_LABEL = "STAGED"


def used_up(versions: VersionReader[Any]) -> str | None:
    """The version still labelled STAGED whose value was just promoted, or None.

    A value staged after this rotation began is a different value: it keeps its label for the next rotation.
    """
    staged = versions.labelled(STAGED_LABEL)
    if staged is not None and staged.text == versions.pending().text:
        return staged.version_id
    return None
