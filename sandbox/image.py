"""Building and describing the grader image that the docker sandbox runs.

Two ways to build the Dockerfile's ``grader`` target:

- offline (this workplace, no image registry): ``scripts/build-grader-image.sh`` makes a
  Debian base with debootstrap + ``docker import``, fills ``var/wheelhouse`` with
  ``pip download`` and builds from those; it skips every step whose inputs have not changed.
- online (production): ``docker build`` from the public ``python:3.11-slim-bookworm`` base.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sandbox.docker_backend import default_image
from sandbox.errors import SandboxError, SandboxUnavailable

REPO_ROOT = Path(__file__).resolve().parent.parent
OFFLINE_SCRIPT = REPO_ROOT / "scripts" / "build-grader-image.sh"


def build_command(offline: bool, tf_package: str) -> list[str]:
    """The command that builds the image (run from the repository root)."""
    if offline:
        return [str(OFFLINE_SCRIPT)]
    name = default_image().split(":", 1)[0]
    return [
        "docker",
        "build",
        "--target",
        "grader",
        "--build-arg",
        f"TF_PACKAGE={tf_package}",
        "-t",
        f"{name}:latest",
        str(REPO_ROOT),
    ]


def build_image(offline: bool, tf_package: str = "tensorflow-cpu") -> None:
    """Build the grader image; ``SandboxError`` names the log when the build fails."""
    if offline and not OFFLINE_SCRIPT.is_file():
        raise SandboxError(f"{OFFLINE_SCRIPT} is missing: build from a checkout of Assay")
    env = {**os.environ, "TF_PACKAGE": tf_package}
    env.setdefault("GRADER_IMAGE", default_image().split(":", 1)[0])
    try:
        code = subprocess.call(build_command(offline, tf_package), cwd=REPO_ROOT, env=env)
    except FileNotFoundError as exc:
        raise SandboxUnavailable(
            f"cannot build the image: {exc.filename} is not installed"
        ) from exc
    if code != 0:
        where = "var/grader-build.log" if offline else "the output above"
        raise SandboxError(f"the grader image build failed (exit {code}); see {where}")


def describe_image(name: str | None = None) -> dict:
    """Id, tags, size and build-inputs label of the grader image; ``SandboxUnavailable`` if absent."""
    from sandbox.docker_backend import DockerSandbox

    name = name or default_image()
    ok, reason = DockerSandbox.available()
    if not ok:
        raise SandboxUnavailable(reason)
    import docker

    try:
        image = docker.from_env().images.get(name)
    except docker.errors.ImageNotFound:
        raise SandboxUnavailable(
            f"grader image {name!r} is not built; run: assay image build --offline"
        ) from None
    return {
        "name": name,
        "id": image.id,
        "tags": image.tags,
        "created": image.attrs.get("Created", ""),
        "size_mb": round(image.attrs.get("Size", 0) / 2**20),
        "inputs": (image.labels or {}).get("assay.inputs", ""),
    }
