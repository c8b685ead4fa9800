"""Worker placement: which worker may take which grading.

A worker declares its capacity when it starts (``ASSAY_WORKER_GPUS``, default: the GPUs
``nvidia-smi -L`` lists, else 0; and its threads) in the worker registry, and renews a
heartbeat there from its sweeper. A challenge declares a GPU need with ``[limits] gpus``
in its ``challenge.toml`` (the docker backend then asks the engine for them with a device
request). The rule: a grading that needs a GPU is taken only by a worker with one; GPU
workers take any grading, so CPU hosts still run the small ones and GPU hosts are never idle.

All workers read one queue. A CPU worker that gets a GPU grading's message leaves the
grading queued and puts the message back with a short delay while a GPU worker is alive;
while none is, it drops the message (the sweeper re-sends one each round) and the
candidate's status page and ``/metrics`` say that the grading waits for a GPU worker.
"""

from __future__ import annotations

import functools
import shutil
import socket
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from sandbox import settings as declared
from server.models.base import utcnow
from server.models.grading import QUEUED, Grading, Submission
from server.models.workers import WorkerRecord

#: A worker whose heartbeat is older than this is taken as gone (sweeps run every ~10 s).
ALIVE_SECONDS = 60.0
#: Rows of workers silent this long are removed (a host that was switched off).
FORGET_AFTER = timedelta(days=1)
#: How long a message for a GPU grading waits before it goes back on the queue.
BOUNCE_SECONDS = 2.0
WAITING_FOR_GPU = "gpu"


@dataclass(frozen=True)
class Capacity:
    """What one worker process can run: GPUs, and gradings at once."""

    gpus: int = 0
    slots: int = 1

    @classmethod
    def from_env(cls, slots: int, settings=None) -> Capacity:
        """``ASSAY_WORKER_GPUS`` of ``settings`` (default: the environment's), else the GPUs
        ``nvidia-smi`` lists."""
        value = (settings or declared.current()).worker_gpus
        gpus = value if value is not None else detect_gpus()
        return cls(gpus=max(0, gpus), slots=max(1, slots))


def detect_gpus() -> int:
    """GPUs that ``nvidia-smi -L`` lists on this host; 0 without the NVIDIA driver."""
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        out = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


@functools.lru_cache(maxsize=256)
def needs_gpu(challenge_slug: str) -> bool:
    """Whether ``challenge_slug`` asks for a GPU (``[limits] gpus`` > 0); unknown: no."""
    from graders.challenges import get_challenge

    try:
        return get_challenge(challenge_slug).spec.limits.gpus > 0
    except Exception:  # an unknown challenge fails in the grading itself, on any worker
        return False


# -- the registry --------------------------------------------------------------------------------


def register(session: Session, name: str, capacity: Capacity, now: datetime | None = None) -> None:
    """Add (or replace) this worker's row; the caller commits."""
    now = now or utcnow()
    session.execute(sa.delete(WorkerRecord).where(WorkerRecord.name == name))
    session.add(
        WorkerRecord(
            name=name,
            host=socket.gethostname(),
            gpus=capacity.gpus,
            slots=capacity.slots,
            started_at=now,
            heartbeat_at=now,
        )
    )


def heartbeat(session: Session, name: str, capacity: Capacity, now: datetime | None = None) -> None:
    """Renew this worker's heartbeat (re-registering it if its row was removed); commits."""
    now = now or utcnow()
    renewed = session.execute(
        sa.update(WorkerRecord).where(WorkerRecord.name == name).values(heartbeat_at=now)
    ).rowcount
    if renewed != 1:
        register(session, name, capacity, now)
    session.execute(sa.delete(WorkerRecord).where(WorkerRecord.heartbeat_at < now - FORGET_AFTER))
    session.commit()


def unregister(session: Session, name: str) -> None:
    """Remove this worker's row (a clean stop); commits."""
    session.execute(sa.delete(WorkerRecord).where(WorkerRecord.name == name))
    session.commit()


def live_workers(session: Session, now: datetime | None = None) -> list[WorkerRecord]:
    """Workers whose heartbeat is recent, oldest first."""
    since = (now or utcnow()) - timedelta(seconds=ALIVE_SECONDS)
    return list(
        session.scalars(
            sa.select(WorkerRecord)
            .where(WorkerRecord.heartbeat_at >= since)
            .order_by(WorkerRecord.started_at)
        )
    )


def gpu_worker_alive(session: Session, now: datetime | None = None) -> bool:
    return any(w.gpus > 0 for w in live_workers(session, now))


# -- the rule ------------------------------------------------------------------------------------


def grading_needs_gpu(session: Session, grading_id: int) -> bool:
    slug = session.scalar(
        sa.select(Submission.challenge_slug)
        .join(Grading, Grading.submission_id == Submission.id)
        .where(Grading.id == grading_id)
    )
    return slug is not None and needs_gpu(slug)


def may_take(session: Session, grading_id: int, capacity: Capacity) -> bool:
    """Whether a worker with ``capacity`` may claim ``grading_id``."""
    return capacity.gpus > 0 or not grading_needs_gpu(session, grading_id)


def waiting_for(session: Session, grading: Grading, now: datetime | None = None) -> str:
    """``"gpu"`` when a queued ``grading`` needs a GPU and no GPU worker is alive, else ``""``."""
    if grading.status != QUEUED or not needs_gpu(grading.submission.challenge_slug):
        return ""
    return "" if gpu_worker_alive(session, now) else WAITING_FOR_GPU


def waiting_for_gpu_count(session: Session, now: datetime | None = None) -> int:
    """Queued gradings that need a GPU while no GPU worker is alive (0 while one is)."""
    if gpu_worker_alive(session, now):
        return 0
    slugs = session.scalars(
        sa.select(Submission.challenge_slug)
        .join(Grading, Grading.submission_id == Submission.id)
        .where(Grading.status == QUEUED)
    ).all()
    return sum(1 for slug in slugs if needs_gpu(slug))
