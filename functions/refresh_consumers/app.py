"""Redeploys the ECS services that inject a secret after its rotation succeeded (EventBridge)."""

from rotator.refresh import refresh_handler

lambda_handler = refresh_handler()
