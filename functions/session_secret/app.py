"""Rotation Lambda for random symmetric secrets (session and encryption keys)."""

from rotator.cold_start import frozen
from rotator.handler import handler_for

lambda_handler = frozen(handler_for("session_secret"))
