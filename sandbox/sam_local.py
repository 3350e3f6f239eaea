"""What ``sam local invoke`` needs to run the template's functions against a running sandbox.

``python -m sandbox serve --sam-local FILE`` uses it: the functions' environment
(SAM's ``--env-vars`` format, one section per function, only variables the
template declares), the ARN the local Lambda emulator tells a handler it was
invoked as, and, for every sample event under ``events/``, its token staged as
AWSPENDING on its secret, as RotateSecret would have left it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sandbox.functions import PROJECT_ROOT, rotation_functions

if TYPE_CHECKING:
    from sandbox.harness import KindHarness
    from sandbox.rotate_secret import RotateSecretEmulator
    from sandbox.session import Servers

__all__ = [
    "EVENTS", "declared_variables", "env_vars", "invoked_arn", "local_invoke_arns", "prepare_sam_local",
    "sample_events", "write_env_vars",
]  # fmt: skip

EVENTS = PROJECT_ROOT / "events"


def invoked_arn(logical_id: str) -> str:
    """The ARN SAM's local emulator reports as invoked: its fixed region and account, the logical id as name."""
    return f"arn:aws:lambda:us-east-1:012345678912:function:{logical_id}"


def declared_variables(template: Mapping[str, Any] | None = None) -> dict[str, set[str]]:
    """Per function (logical id): the environment variables the template declares for it, Globals included."""
    from sandbox.functions import load_template

    document = template or load_template()
    shared = set(document["Globals"]["Function"]["Environment"]["Variables"])
    return {
        logical_id: shared | set(spec.properties.get("Environment", {}).get("Variables", {}))
        for logical_id, spec in rotation_functions(dict(document)).items()
    }


def env_vars(values: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """The ``--env-vars`` document: for each function, the ``values`` it declares (SAM passes no others)."""
    return {
        logical_id: {name: values[name] for name in sorted(names) if name in values}
        for logical_id, names in declared_variables().items()
    }


def sample_events() -> list[tuple[str, Path, dict[str, str]]]:
    """Every sample event as (kind, file, event), in the kinds' folders."""
    return [
        (path.parent.name, path, json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(EVENTS.glob("*/*.json"))
    ]


def write_env_vars(path: Path, values: Mapping[str, str]) -> None:
    """Write the ``--env-vars`` file (it names the sandbox's CA and endpoints, no secret)."""
    path.write_text(json.dumps(env_vars(values), indent=2) + "\n", encoding="utf-8")


def local_invoke_arns(emulator: RotateSecretEmulator) -> dict[str, str]:
    """Per kind, the ARN ``sam local invoke`` runs its function as; the emulator answers to it too, so the
    sandbox's own RotateSecret still works for secrets configured with it."""
    arns = {spec.kind: invoked_arn(logical_id) for logical_id, spec in rotation_functions().items()}
    for kind, arn in arns.items():
        emulator.also_as(arn, kind)
    return arns


def _reachable(url: str, host: str) -> str:
    """``url`` with its host replaced by ``host`` (the name a container resolves)."""
    parts = urlsplit(url)
    return parts._replace(netloc=f"{host}:{parts.port}").geturl()


def container_values(servers: Servers, host: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The sandbox's settings for the functions (``ROTATION_*`` of ``environ``), as a container sees them:
    endpoints by ``host``, the PostgreSQL CA as PEM text (a container cannot read this machine's file)."""
    from rotator.kinds.postgres.settings import ENV_POSTGRES_SSLROOTCERT
    from rotator.kinds.stripe.settings import ENV_STRIPE_API_BASE
    from rotator.settings import ENV_ENDPOINT_URL

    values = {name: value for name, value in environ.items() if name.startswith("ROTATION_")}
    values[ENV_ENDPOINT_URL] = _reachable(servers.moto.endpoint, host)
    values[ENV_STRIPE_API_BASE] = _reachable(servers.stripe.base_url, host)
    if servers.postgres.ca_path is not None:
        values[ENV_POSTGRES_SSLROOTCERT] = Path(servers.postgres.ca_path).read_text(encoding="ascii")
    return values


def prepare_sam_local(servers: Servers, path: Path, host: str, harnesses: Mapping[str, KindHarness]) -> None:
    """Write the ``--env-vars`` file and stage each sample event's token (AWSPENDING, as RotateSecret leaves
    it) on its secret, after what the secret's harness does before a rotation (Stripe: a key staged, as
    ``rotation stage`` would). ``harnesses``: the seeded secrets' harness entries, by name."""
    import os

    write_env_vars(path, container_values(servers, host, os.environ))
    for secret_id, token in dict.fromkeys((e["SecretId"], e["ClientRequestToken"]) for _, _, e in sample_events()):
        harnesses[secret_id].before_rotation(servers.targets, secret_id)
        servers.emulator.begin(secret_id, token=token)
