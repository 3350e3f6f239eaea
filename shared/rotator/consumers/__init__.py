"""The consumers of a secret: ECS services that inject it (``discovery``), the check before a step takes a
credential away (``guard``), and the function that redeploys them after a rotation (``refresh``)."""
