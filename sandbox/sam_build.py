"""``sam build`` without Docker or python3.13, and what the built artifacts must look like.

``python -m sandbox.sam_build`` (``make build``) builds into ``.aws-sam/build``, where
``sam deploy`` and ``sam local invoke`` look for the built template, and prints the
size of every function, with and without the shared layer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sandbox.functions import PROJECT_ROOT

__all__ = ["BUILD_DIR", "artifact_sizes", "build", "tool"]

BUILD_DIR = PROJECT_ROOT / ".aws-sam" / "build"  # SAM CLI's default: deploy and local invoke read it


def tool(name: str) -> Path:
    """A tool installed by the Makefile in its own venv (``.venv-tools/<name>``), or ROTATION_<NAME>."""
    override = os.environ.get(f"ROTATION_{name.upper()}")
    path = Path(override) if override else PROJECT_ROOT / ".venv-tools" / name / "bin" / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: `make test` installs it")
    return path


def build(build_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run ``sam build`` for template.yaml into ``build_dir``."""
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PYTHON": sys.executable}
    return subprocess.run(
        [
            str(tool("sam")), "build", "--template-file", str(PROJECT_ROOT / "template.yaml"),
            "--build-dir", str(build_dir), "--cache-dir", str(build_dir.parent / "cache"),
        ],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def artifact_sizes(build_dir: Path) -> dict[str, int]:
    """Bytes per built resource (functions and the layer)."""
    return {child.name: _size(child) for child in sorted(build_dir.iterdir()) if child.is_dir()}


def main() -> int:
    result = build(BUILD_DIR)
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:], file=sys.stderr)
        return 1
    sizes = artifact_sizes(BUILD_DIR)
    layer = sizes.pop("SharedLayer", 0)
    print(f"{'function':<24} {'function MiB':>12} {'with layer MiB':>15}")
    for name, size in sizes.items():
        print(f"{name:<24} {size / 2**20:>12.1f} {(size + layer) / 2**20:>15.1f}")
    print(f"{'SharedLayer':<24} {layer / 2**20:>12.1f}")
    if not any((BUILD_DIR / "SharedLayer").rglob("*.cpython-313.pyc")):
        print(
            "no python3.13 on this machine: the build ships without bytecode, so every cold start compiles the "
            "modules it imports (about 1.5x the floor instead of 1.1x, see docs/benchmark.md); install "
            "python3.13 or run `sam build --use-container`",
            file=sys.stderr,
        )
    print(f"built into {BUILD_DIR.relative_to(PROJECT_ROOT)}: `sam deploy --config-env <env>` deploys it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
