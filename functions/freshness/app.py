"""Alarms (through a metric) on the stack's secrets that have not rotated in time (EventBridge, hourly)."""

from rotator.cold_start import frozen
from rotator.freshness import freshness_handler

lambda_handler = frozen(freshness_handler())
