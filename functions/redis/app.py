"""Rotation Lambda for Redis ACL users (two live passwords during the overlap)."""

from rotator.cold_start import frozen
from rotator.handler import handler_for

lambda_handler = frozen(handler_for("redis"))
