"""Rotation Lambda for asymmetric signing keys with a published public keyring."""

from rotator.cold_start import frozen
from rotator.handler import handler_for

lambda_handler = frozen(handler_for("signing_key"))
