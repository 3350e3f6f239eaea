"""Redeploys the ECS services that inject a secret after its rotation succeeded (EventBridge)."""

from rotator.cold_start import frozen
from rotator.consumers.refresh import refresh_handler

lambda_handler = frozen(refresh_handler())
