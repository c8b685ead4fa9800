"""A cgroup per sandboxed job (used by the bwrap backend).

Memory (without swap), process count and CPU are limited by a child cgroup created under
the worker's own cgroup, when the cgroup filesystem is writable (root, or a delegated
cgroup v2 subtree). Both layouts are handled: pure cgroup v2, and cgroup v1 (also the
"hybrid" layout where v1 controllers sit beside an empty unified hierarchy). The cgroup
also answers "was it killed for memory?" and "how much memory did it use at most?".
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sandbox.lifecycle import Owner

CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000


@dataclass
class Cgroup:
    """One job's cgroup: a directory per hierarchy (one on v2, up to three on v1)."""

    version: int
    dirs: dict[str, Path]

    @classmethod
    def create(
        cls, memory_mb: int, processes: int, cpus: float, owner: Owner | None = None
    ) -> Cgroup | None:
        """Make and configure a job cgroup, or None when no usable hierarchy is writable.

        Its name, ``assay-<owner tag>-<random>``, says which process made it (default: this
        one), so that the janitor and the reaper can remove it once that process is gone.
        """
        mounts = _mounts()
        name = f"assay-{(owner or Owner.current()).tag}-{uuid.uuid4().hex[:8]}"
        group = _create_v2(mounts, name) or _create_v1(mounts, name)
        if group is None:
            return None
        try:
            group._configure(memory_mb, processes, cpus)
        except OSError:
            group.remove()
            return None
        return group

    @property
    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes its pid to, to join this cgroup."""
        return [str(path / "cgroup.procs") for path in dict.fromkeys(self.dirs.values())]

    def _configure(self, memory_mb: int, processes: int, cpus: float) -> None:
        limit = memory_mb * 1024 * 1024
        quota = max(int(cpus * CPU_PERIOD_US), 1000)
        if self.version == 2:
            self._write("memory", "memory.max", limit)
            self._write("memory", "memory.swap.max", 0, optional=True)
            self._write("pids", "pids.max", processes)
            self._write("cpu", "cpu.max", f"{quota} {CPU_PERIOD_US}")
            return
        self._write("memory", "memory.limit_in_bytes", limit)
        self._write("memory", "memory.memsw.limit_in_bytes", limit, optional=True)
        self._write("memory", "memory.swappiness", 0, optional=True)
        self._write("pids", "pids.max", processes)
        self._write("cpu", "cpu.cfs_period_us", CPU_PERIOD_US, optional=True)
        self._write("cpu", "cpu.cfs_quota_us", quota, optional=True)

    def _write(self, controller: str, filename: str, value, optional: bool = False) -> None:
        path = self.dirs[controller] / filename
        try:
            path.write_text(str(value))
        except OSError:
            if not optional:
                raise

    def _read(self, controller: str, filename: str) -> str | None:
        try:
            return (self.dirs[controller] / filename).read_text()
        except OSError:
            return None

    def oom_kills(self) -> int:
        """How many processes the kernel killed for memory in this cgroup."""
        text = self._read("memory", "memory.events" if self.version == 2 else "memory.oom_control")
        for line in (text or "").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def peak_memory_mb(self) -> float | None:
        """Peak memory use (cgroup v1, or v2 on kernels with ``memory.peak``), else None."""
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        text = self._read("memory", name)
        return round(int(text) / (1024 * 1024), 1) if text and text.strip().isdigit() else None

    def pids_current(self) -> int | None:
        """How many tasks (threads included) are in the cgroup now, as ``pids.max`` counts."""
        text = self._read("pids", "pids.current")
        return int(text) if text and text.strip().isdigit() else None

    def pids(self) -> list[int]:
        """Processes currently in the cgroup."""
        pids: set[int] = set()
        for procs in self.procs_files:
            with contextlib.suppress(OSError):
                pids.update(int(line) for line in Path(procs).read_text().split())
        return sorted(pids)

    def kill(self, timeout: float = 5.0) -> None:
        """SIGKILL every process in the cgroup (retrying while a fork bomb races us)."""
        kill_file = self.dirs["memory"] / "cgroup.kill"
        if self.version == 2 and kill_file.exists():
            kill_file.write_text("1")
        deadline = time.monotonic() + timeout
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)

    def remove(self) -> None:
        """Kill what is left and delete the cgroup directories."""
        self.kill()
        for path in dict.fromkeys(self.dirs.values()):
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # busy for a moment while the last processes exit
                    time.sleep(0.02)


def _mounts() -> list[tuple[str, Path, set[str]]]:
    """(fstype, mount point, options) of every cgroup mount of this process."""
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, super_opts = fields[sep + 1], fields[sep + 3]
            if fstype in ("cgroup", "cgroup2"):
                mounts.append((fstype, Path(fields[4]), set(super_opts.split(","))))
    return mounts


def pids_current_file(pid: int) -> Path | None:
    """The ``pids.current`` file of the cgroup process ``pid`` is in (e.g. a container's
    pid 1), when this machine's cgroup filesystem shows it; else None."""
    try:
        own = _own_paths(pid)
    except OSError:
        return None
    for fstype, point, opts in _mounts():
        key = (
            "pids" if fstype == "cgroup" and "pids" in opts else "" if fstype == "cgroup2" else None
        )
        if key is None or key not in own:
            continue
        path = point / own[key].lstrip("/") / "pids.current"
        if path.is_file():
            return path
    return None


def _own_paths(pid: int | str = "self") -> dict[str, str]:
    """A process's cgroup path per v1 controller, and under key "" for v2."""
    paths = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
    return paths


def _create_v2(mounts, name: str) -> Cgroup | None:
    root = next((point for fstype, point, _ in mounts if fstype == "cgroup2"), None)
    own = _own_paths().get("")
    if root is None or own is None:
        return None
    parent = root / own.lstrip("/")
    try:
        available = set((parent / "cgroup.controllers").read_text().split())
        if not set(CONTROLLERS) <= available:
            return None
        enabled = set((parent / "cgroup.subtree_control").read_text().split())
        missing = " ".join(f"+{c}" for c in CONTROLLERS if c not in enabled)
        if missing:
            (parent / "cgroup.subtree_control").write_text(missing)
        path = parent / name
        path.mkdir()
    except OSError:
        return None
    return Cgroup(2, {controller: path for controller in CONTROLLERS})


def _create_v1(mounts, name: str) -> Cgroup | None:
    own = _own_paths()
    dirs: dict[str, Path] = {}
    for controller in CONTROLLERS:
        point = next((p for t, p, opts in mounts if t == "cgroup" and controller in opts), None)
        if point is None or controller not in own:
            return _discard(dirs)
        path = point / own[controller].lstrip("/") / name
        try:
            if path not in dirs.values():
                path.mkdir()
        except OSError:
            return _discard(dirs)
        dirs[controller] = path
    return Cgroup(1, dirs)


def _discard(dirs: dict[str, Path]) -> None:
    for path in dict.fromkeys(dirs.values()):
        with contextlib.suppress(OSError):
            path.rmdir()
    return None
