"""Rotation Lambda for PostgreSQL credentials (single user or alternating users)."""

from rotator.handler import handler_for

lambda_handler = handler_for("postgres")
