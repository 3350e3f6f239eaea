"""Rotation Lambda for Stripe keys and webhook secrets (validated manual rotation)."""

from rotator.cold_start import frozen
from rotator.handler import handler_for

lambda_handler = frozen(handler_for("stripe"))
