"""The task queue (Huey): how a grading's id travels from the web app to a worker.

The database is the source of truth; a queue message is only a wake-up call that says
"grading N is waiting". A lost message (a worker killed after taking it, a crash between
commit and enqueue) costs nothing: the worker's sweeper puts the grading back
(``server.grading.requeue_expired`` / ``lost_messages``), and a duplicate message is harmless
because taking a grading is a conditional update that only one worker wins.

``SqliteHuey`` in its own file in the instance folder by default (no server to run);
``RedisHuey`` when ``ASSAY_QUEUE_URL`` is a ``redis://`` URL (several machines).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from huey import Huey, RedisHuey, SqliteHuey

log = logging.getLogger(__name__)

QUEUE_FILE = "queue.sqlite3"
#: The one task's name; the web side and the worker register the same function under it.
GRADE_TASK = "grade"


def _number(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


@dataclass(frozen=True)
class QueueSettings:
    """How workers hold and give back gradings; from the environment, with safe defaults.

    ``lease_seconds`` must be well above the service's heartbeat interval (about 5 s):
    a lease not renewed for that long is taken as a dead worker.
    """

    lease_seconds: float = 60.0
    max_tries: int = 3
    #: How often a worker looks for expired leases and lost messages.
    sweep_seconds: float = 10.0
    #: Gradings one worker process runs at once (each one is a train and a predict sandbox).
    threads: int = 1
    #: How often an idle worker polls SQLite for a message (Redis blocks instead).
    poll_seconds: float = 0.05
    #: Progress: at most one epoch event per this many seconds (the last one always).
    epoch_seconds: float = 1.0
    #: How long a stopping worker waits for cancelled gradings to hand back their sandboxes.
    shutdown_seconds: float = 20.0
    sandbox: str = "auto"

    @classmethod
    def from_env(cls) -> QueueSettings:
        return cls(
            lease_seconds=_number("ASSAY_LEASE_SECONDS", cls.lease_seconds),
            max_tries=int(_number("ASSAY_MAX_TRIES", cls.max_tries)),
            sweep_seconds=_number("ASSAY_SWEEP_SECONDS", cls.sweep_seconds),
            threads=int(_number("ASSAY_WORKER_THREADS", cls.threads)),
            poll_seconds=_number("ASSAY_POLL_SECONDS", cls.poll_seconds),
            epoch_seconds=_number("ASSAY_EPOCH_SECONDS", cls.epoch_seconds),
            shutdown_seconds=_number("ASSAY_SHUTDOWN_SECONDS", cls.shutdown_seconds),
            sandbox=os.environ.get("ASSAY_SANDBOX") or cls.sandbox,
        )


def make_huey(instance: Path | str, url: str = "") -> Huey:
    """A Huey for the instance folder ``instance`` (SQLite file) or the Redis at ``url``.

    Results are not stored: a grading's outcome lives in the database, and stored results
    would pile up unread in the queue file.
    """
    if url.startswith(("redis://", "rediss://", "unix://")):
        huey: Huey = RedisHuey("assay", url=url, results=False)
    elif url:
        raise ValueError(f"ASSAY_QUEUE_URL must be a redis:// URL, not {url!r}")
    else:
        huey = SqliteHuey(
            "assay", filename=str(Path(instance) / QUEUE_FILE), results=False, timeout=15
        )
    huey.assay_grade = huey.task(name=GRADE_TASK)(_grade)
    return huey


def _grade(grading_id: int) -> None:
    # Imported here: the web app enqueues through the same task but never runs it.
    from server.worker import run_grading

    run_grading(grading_id)


_lock = threading.Lock()
_hueys: dict[tuple[str, str], Huey] = {}


def get_huey(instance: Path | str | None = None, url: str | None = None) -> Huey:
    """This process's Huey for ``instance``/``url`` (default: from the environment), made once."""
    if instance is None:
        from server.config import instance_folder

        instance = instance_folder()
    if url is None:
        url = os.environ.get("ASSAY_QUEUE_URL") or ""
    key = (str(Path(instance).resolve()), url)
    with _lock:
        if key not in _hueys:
            _hueys[key] = make_huey(key[0], url)
        return _hueys[key]


def enqueue_grading(huey: Huey, grading_id: int) -> None:
    """Put a wake-up message for ``grading_id`` on the queue."""
    huey.enqueue(huey.assay_grade.s(grading_id))


def pending_ids(huey: Huey) -> set[int]:
    """Grading ids with a message waiting on the queue (read by the sweeper)."""
    ids = set()
    for task in huey.pending():
        if task.name == GRADE_TASK and task.args:
            ids.add(int(task.args[0]))
    return ids
