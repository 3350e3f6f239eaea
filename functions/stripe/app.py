"""Rotation Lambda for Stripe keys and webhook secrets (validated manual rotation)."""

from rotator.handler import handler_for

lambda_handler = handler_for("stripe")
