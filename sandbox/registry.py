"""The sandbox backends by name, and how one is chosen.

A registry of small classes keyed by name (STYLE.md): ``docker`` for production, ``bwrap``
for a machine without Docker. There is never a fallback to running code unsandboxed:
``get_sandbox`` names the reason and the fix when a backend cannot run here.
"""

from __future__ import annotations

from typing import Any

from sandbox.base import Sandbox
from sandbox.bwrap_backend import BwrapSandbox
from sandbox.docker_backend import DockerSandbox
from sandbox.errors import SandboxUnavailable

BACKENDS: dict[str, type[Sandbox]] = {
    DockerSandbox.name: DockerSandbox,
    BwrapSandbox.name: BwrapSandbox,
}
#: The order ``auto`` tries them in.
PREFERENCE = ("docker", "bwrap")


def get_sandbox(name: str, **options: Any) -> Sandbox:
    """The backend called ``name``, constructed with ``options``.

    Raises ``SandboxUnavailable`` (reason and fix in the message) when the name is unknown
    or the backend cannot run here; there is no fallback to another backend.
    """
    if name not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise SandboxUnavailable(f"unknown sandbox backend {name!r}; choose one of: {known}")
    cls = BACKENDS[name]
    ok, reason = cls.available()
    if not ok:
        raise SandboxUnavailable(f"sandbox backend {name!r} is unavailable: {reason}")
    return cls(**options)


def pick_sandbox(name: str = "auto", image: str | None = None) -> Sandbox:
    """The named backend, or with ``auto`` Docker when its engine answers, else bubblewrap.

    ``image`` names the docker backend's grader image (ignored by bwrap).
    """
    if name != "auto":
        return get_sandbox(name, **({"image": image} if image and name == "docker" else {}))
    reasons = []
    for candidate in PREFERENCE:
        ok, reason = BACKENDS[candidate].available()
        if ok:
            return pick_sandbox(candidate, image)
        reasons.append(f"{candidate}: {reason}")
    raise SandboxUnavailable("no sandbox backend can run here; " + "; ".join(reasons))
