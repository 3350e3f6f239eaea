"""The protocol core: the event, the staging checks, the versions a step reads, the kind interface, the engine.

It knows no target system and no consumer: kinds plug in through ``rotator.core.strategy``, the consumer check
through ``rotator.core.engine.ConsumerCheck``.
"""
