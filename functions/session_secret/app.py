"""Rotation Lambda for random symmetric secrets (session and encryption keys)."""

from rotator.handler import handler_for

lambda_handler = handler_for("session_secret")
