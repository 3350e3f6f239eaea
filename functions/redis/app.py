"""Rotation Lambda for Redis ACL users (two live passwords during the overlap)."""

from rotator.handler import handler_for

lambda_handler = handler_for("redis")
