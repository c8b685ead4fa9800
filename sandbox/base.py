"""The one interface every sandbox backend implements.

A ``Job`` names what to run (arguments to the sandbox's Python interpreter), a host folder
mounted read-only at ``/job``, a host folder that receives what the job leaves in ``/out``,
and ``Limits``. ``Sandbox.run(job)`` always returns a ``RunResult``: a crash, a timeout or
an out-of-memory kill is a result, not an exception.

Inside every backend: ``/job`` read-only, ``/out`` writable (at most ``disk_mb``), ``/tmp``
a size-limited tmpfs, ``HOME=/tmp``, cwd ``/tmp``, no network, a non-root user, no
capabilities, and the limits applied. No backend ever runs code unsandboxed.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

#: Environment every job sees (on top of ``Job.env``, which cannot override it).
BASE_ENV = {
    "HOME": "/tmp",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "LANG": "C.UTF-8",
}


@dataclass(frozen=True)
class Limits:
    """Resource limits of one job.

    ``output_bytes`` caps each of the captured stdout and stderr; ``disk_mb`` is the size of
    the writable ``/out`` and of the ``/tmp`` tmpfs (each; both count toward memory, as they
    live in RAM); ``processes`` counts threads too (a pids limit). A job that prints more
    than ``flood_bytes`` on either stream is killed (``output_flooded``) rather than drained.
    """

    wall_seconds: float = 600.0
    memory_mb: int = 2048
    cpus: float = 1.0
    processes: int = 256
    output_bytes: int = 1_000_000
    disk_mb: int = 256
    flood_bytes: int = 64 * 1024 * 1024
    gpus: int = 0

    def __post_init__(self):
        names = ("wall_seconds", "memory_mb", "cpus", "processes", "output_bytes", "disk_mb")
        for name in (*names, "flood_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive")
        if self.gpus < 0:
            raise ValueError("Limits.gpus must not be negative")


@dataclass
class Job:
    """What to run in a sandbox.

    ``argv`` are arguments to the sandbox's Python interpreter (the backend prepends it),
    e.g. ``["/job/harness.py", "train", "/job/job.json"]``. ``on_stdout_line`` is called
    with each stdout line as it arrives (from a reader thread); setting ``cancel`` kills
    the job promptly.
    """

    argv: list[str]
    input_dir: Path
    output_dir: Path
    limits: Limits = field(default_factory=Limits)
    env: dict[str, str] = field(default_factory=dict)
    on_stdout_line: Callable[[str], None] | None = None
    cancel: threading.Event | None = None

    def environment(self) -> dict[str, str]:
        """The job's environment: ``env`` plus ``BASE_ENV`` (which wins)."""
        return {**self.env, **BASE_ENV}


@dataclass
class RunResult:
    """What happened to a job.

    ``exit_code`` is shell style (128 + signal when killed, e.g. 137 for SIGKILL) or None
    when it never finished. ``output_exceeded``: ``/out`` held more than ``disk_mb`` (or too
    many files), so the output folder is incomplete. ``stdout``/``stderr`` are the first
    ``output_bytes`` of each, decoded as UTF-8 with replacement. ``pids_capped``: the job
    sat at its process cap for seconds (a fork bomb that swallows its errors) and was killed.
    """

    exit_code: int | None
    backend: str
    timed_out: bool = False
    oom_killed: bool = False
    cancelled: bool = False
    output_exceeded: bool = False
    output_flooded: bool = False
    pids_capped: bool = False
    wall_seconds: float = 0.0
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    peak_memory_mb: float | None = None
    image: str | None = None

    @property
    def ok(self) -> bool:
        """Exited 0 within every limit."""
        return self.exit_code == 0 and not (
            self.timed_out
            or self.oom_killed
            or self.cancelled
            or self.output_exceeded
            or self.output_flooded
            or self.pids_capped
        )


class Sandbox(ABC):
    """A place to run untrusted code. Backends are registered in ``sandbox.registry``."""

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def available(cls) -> tuple[bool, str]:
        """Whether this backend can run here; when not, the reason and the fix."""

    @abstractmethod
    def run(self, job: Job) -> RunResult:
        """Run ``job`` to completion (or to a limit) and clean up everything it left."""

    def describe(self) -> dict[str, Any]:
        """What a report records to reproduce a run (backend, image id, ...)."""
        return {"backend": self.name}


def wait_for(
    is_done: Callable[[float], bool],
    deadline: float,
    cancel: threading.Event | None,
    flooded: Callable[[], bool] = lambda: False,
) -> str:
    """Poll ``is_done(timeout)`` until it is true ("done"), ``deadline`` (a
    ``time.monotonic()`` value) passes ("timeout"), ``cancel`` is set ("cancelled") or
    ``flooded()`` says the job printed past its flood limit ("flooded")."""
    while True:
        if cancel is not None and cancel.is_set():
            return "cancelled"
        if flooded():
            return "flooded"
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        if is_done(min(left, 0.1)):
            return "done"
