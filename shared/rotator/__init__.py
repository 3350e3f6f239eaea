"""Secret rotation for AWS Secrets Manager: one protocol engine, one strategy per kind."""

__all__ = ["handler_for"]


def __getattr__(name: str) -> object:
    # Lazy, so `import rotator.codecs` (a consumer helper) does not pull in Powertools.
    if name == "handler_for":
        from rotator.handler import handler_for

        return handler_for
    raise AttributeError(name)
