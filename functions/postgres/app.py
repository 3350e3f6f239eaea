"""Rotation Lambda for PostgreSQL credentials (single user or alternating users)."""

from rotator.cold_start import frozen
from rotator.handler import handler_for

lambda_handler = frozen(handler_for("postgres"))
