"""Rotation Lambda for asymmetric signing keys with a published public keyring."""

from rotator.handler import handler_for

lambda_handler = handler_for("signing_key")
