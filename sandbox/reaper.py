"""Finding and removing what graders left: containers, cgroups and work folders.

Each resource names its owner (``sandbox.lifecycle.Owner``): containers in the
``assay.owner`` label, cgroups and work folders in their names. ``reap()`` removes those
whose owner is gone (a worker runs it at start; ``assay sandbox reap`` too); a container
of another host's grader is removed only once its ``assay.expires`` time has passed.
``reap_owner()`` removes everything of one owner, alive or not: the janitor calls it when
its grader has died.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.cgroups import CONTROLLERS, Cgroup, _mounts
from sandbox.lifecycle import (
    CGROUP_NAME,
    EXPIRES_LABEL,
    FOLDER_NAME,
    OWNER_LABEL,
    Owner,
    tag_alive,
)

log = logging.getLogger(__name__)


@dataclass
class Reaped:
    """What a reap removed (names), and what it kept because the owner lives."""

    containers: list[str] = field(default_factory=list)
    cgroups: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    kept: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def removed(self) -> int:
        """How many resources were removed."""
        return len(self.containers) + len(self.cgroups) + len(self.folders)


def reap(*, docker: bool = True, client=None, temp_dir: Path | None = None) -> Reaped:
    """Remove the containers, cgroups and work folders of owners that are gone.

    ``docker=False`` leaves the engine alone (a machine without one); ``client`` is a
    ``docker.DockerClient`` (default: from the environment).
    """
    reaped = Reaped()
    if docker:
        _reap_containers(reaped, client, _container_gone)
    _reap_cgroups(reaped, _gone_tag)
    _reap_folders(reaped, _gone_tag, temp_dir)
    return reaped


def reap_owner(
    owner: Owner, *, docker: bool = True, client=None, temp_dir: Path | None = None
) -> Reaped:
    """Remove everything ``owner`` made, whether it runs or not (the janitor's job)."""
    reaped = Reaped()
    mine = owner.tag.__eq__
    if docker:
        _reap_containers(reaped, client, lambda labels: labels.get(OWNER_LABEL) == owner.id)
    _reap_cgroups(reaped, mine)
    _reap_folders(reaped, mine, temp_dir)
    return reaped


def _gone_tag(tag: str) -> bool:
    return tag_alive(tag) is False


def _container_gone(labels: dict[str, str]) -> bool:
    owner = Owner.parse(labels.get(OWNER_LABEL, ""))
    alive = owner.alive() if owner else None
    if alive is not None:
        return not alive
    # Another host's (or an unreadable owner): only once it should have ended itself.
    try:
        return float(labels.get(EXPIRES_LABEL, "")) < time.time()
    except ValueError:
        return False


def _reap_containers(reaped: Reaped, client, remove_if) -> None:
    try:
        import docker

        client = client or docker.from_env(timeout=30)
        found = client.containers.list(
            all=True, filters={"label": OWNER_LABEL}, ignore_removed=True
        )
    except Exception as exc:  # no engine here, or it does not answer
        reaped.errors.append(f"docker: {exc}")
        return
    for container in found:
        if not remove_if(container.labels):
            reaped.kept += 1
            continue
        try:
            container.remove(force=True)
            reaped.containers.append(container.name)
        except Exception as exc:  # gone meanwhile (auto-removed), or removal in progress
            log.debug("could not remove %s: %s", container.name, exc)


def find_cgroups() -> list[Path]:
    """Every owner-tagged job cgroup directory in every cgroup hierarchy of this machine."""
    found = []
    for _fstype, point, _opts in _mounts():
        for root, dirs, _files in os.walk(point):
            mine = [d for d in dirs if CGROUP_NAME.match(d)]
            found += [Path(root) / d for d in mine]
            dirs[:] = [d for d in dirs if d not in mine]  # a job's cgroup has no children
    return sorted(set(found))


def _reap_cgroups(reaped: Reaped, remove_if) -> None:
    for path in find_cgroups():
        tag = CGROUP_NAME.match(path.name)["tag"]
        if not remove_if(tag):
            reaped.kept += 1
            continue
        version = 2 if (path / "cgroup.controllers").exists() else 1
        # One directory per hierarchy: remove() kills what is left in it, then deletes it.
        Cgroup(version, dict.fromkeys(CONTROLLERS, path)).remove()
        if path.exists():
            reaped.errors.append(f"cgroup {path} is still busy")
        else:
            reaped.cgroups.append(str(path))


def find_folders(temp_dir: Path | None = None) -> list[Path]:
    """Every owner-tagged work folder in the temp folder."""
    root = Path(temp_dir or tempfile.gettempdir())
    with contextlib.suppress(OSError):
        return sorted(p for p in root.iterdir() if FOLDER_NAME.match(p.name) and p.is_dir())
    return []


def _reap_folders(reaped: Reaped, remove_if, temp_dir: Path | None) -> None:
    for path in find_folders(temp_dir):
        if not remove_if(FOLDER_NAME.match(path.name)["tag"]):
            reaped.kept += 1
            continue
        shutil.rmtree(path, ignore_errors=True)
        if path.exists():
            reaped.errors.append(f"folder {path} could not be removed")
        else:
            reaped.folders.append(str(path))
