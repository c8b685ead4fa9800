"""The task queue (Huey): how a grading's id travels from the web app to a worker.

The database is the source of truth; a queue message is only a wake-up call that says
"grading N is waiting". A lost message (a worker killed after taking it, a crash between
commit and enqueue) costs nothing: the worker's sweeper puts the grading back
(``server.sweeper.requeue_expired`` / ``lost_messages``), and a duplicate message is harmless
because taking a grading is a conditional update that only one worker wins.

``SqliteHuey`` in its own file in the instance folder by default (no server to run);
``RedisHuey`` when ``ASSAY_QUEUE_URL`` is a ``redis://`` URL (several machines). An idle
worker blocks on Redis; on SQLite it sleeps until an enqueue wakes it (``WakingSqliteStorage``).
"""

from __future__ import annotations

import logging
import os
import secrets
import select
import socket
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from huey import Huey, RedisHuey, SqliteHuey
from huey.storage import SqliteStorage

from sandbox import settings as declared

log = logging.getLogger(__name__)

QUEUE_FILE = "queue.sqlite3"
#: The grading task's name; the web side and the worker register the same function under it
#: (``_grade``), and a worker gives it the function that grades (``register_grader``).
GRADE_TASK = "grade"
#: Dry runs travel on a queue of their own (its Huey name), so that a worker's dry-run lane
#: takes them at once and full gradings never wait behind them, nor they behind gradings.
DRY_RUN_QUEUE, DRY_RUN_TASK = "assay-dryrun", "dry_run"


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
    #: How often an idle worker polls SQLite for a message when it has no wake-up socket
    #: (Redis blocks instead).
    poll_seconds: float = 0.05
    #: With a wake-up socket: how often an idle worker still looks at the SQLite queue, for a
    #: message sent without a wake-up (an enqueue wakes it at once).
    wake_check_seconds: float = 1.0
    #: Progress: at most one epoch event per this many seconds (the last one always).
    epoch_seconds: float = 1.0
    #: How long a stopping worker waits for cancelled gradings to hand back their sandboxes.
    shutdown_seconds: float = 20.0
    sandbox: str = "auto"

    @classmethod
    def from_env(cls, settings=None) -> QueueSettings:
        """The queue's part of ``settings`` (default: the environment's, ``current()``)."""
        s = settings or declared.current()
        return cls(
            lease_seconds=s.lease_seconds,
            max_tries=s.max_tries,
            sweep_seconds=s.sweep_seconds,
            threads=s.worker_threads,
            poll_seconds=s.poll_seconds,
            wake_check_seconds=s.wake_check_seconds,
            epoch_seconds=s.epoch_seconds,
            shutdown_seconds=s.shutdown_seconds,
            sandbox=s.sandbox,
        )


def make_huey(instance: Path | str, url: str = "", name: str = "assay") -> Huey:
    """A Huey for the instance folder ``instance`` (SQLite file) or the Redis at ``url``.

    Results are not stored: a grading's outcome lives in the database, and stored results
    would pile up unread in the queue file.
    """
    if url.startswith(("redis://", "rediss://", "unix://")):
        huey: Huey = RedisHuey(name, url=url, results=False)
    elif url:
        raise ValueError(f"ASSAY_QUEUE_URL must be a redis:// URL, not {url!r}")
    else:
        settings = QueueSettings.from_env()
        huey = SqliteHuey(
            name,
            storage_class=WakingSqliteStorage,
            filename=str(Path(instance) / QUEUE_FILE),
            wake_dir=str(Path(instance) / _wake_dir(name)),
            check_seconds=settings.wake_check_seconds,
            poll_seconds=settings.poll_seconds,
            results=False,
            timeout=15,
        )
    huey.assay_grade = huey.task(name=GRADE_TASK)(_grade)
    huey.assay_dry_run = huey.task(name=DRY_RUN_TASK)(_no_consumer)
    return huey


def _wake_dir(name: str) -> str:
    # Each queue wakes its own waiters: an upload's dry run must not wake the grading threads.
    return WAKE_DIR if name == "assay" else f"{WAKE_DIR}-{name}"


#: Beside the queue file: one datagram socket per idle-waiting worker process.
WAKE_DIR = "queue-wake"
#: AF_UNIX socket paths are limited to 107 bytes on Linux.
_SOCKET_PATH_MAX = 107


class WakingSqliteStorage(SqliteStorage):
    """The SQLite queue, with idle workers woken by each enqueue instead of polling.

    ``SqliteHuey`` has no blocking pop: an idle consumer polls the file, and a message waits
    for the next poll (half the interval on average). Here a worker process binds a datagram
    socket in ``wake_dir`` on its first ``dequeue`` and waits on it; every process that
    enqueues (web or worker) sends one byte to each socket there. A message is taken at
    once, and an idle worker looks at the file only every ``check_seconds`` (a message sent
    without a wake-up: the safety net, as for a lost message). A socket left by a killed
    worker is removed by the next sender that is refused. Without a socket (a path too long
    for AF_UNIX, say), the worker polls every ``poll_seconds``.
    """

    blocking = True  # the consumer calls dequeue() again at once: dequeue() does the waiting

    def __init__(
        self,
        name="huey",
        *,
        wake_dir: str,
        check_seconds: float = 1.0,
        poll_seconds: float = 0.05,
        **kwargs,
    ):
        super().__init__(name, **kwargs)
        self.wake_dir = Path(wake_dir)
        self.check_seconds, self.poll_seconds = check_seconds, poll_seconds
        self._lock = threading.Lock()
        self._listener: tuple[int, socket.socket | None] | None = None  # (pid, socket)
        self._sender: tuple[int, socket.socket] | None = None

    def enqueue(self, data, priority=None):
        super().enqueue(data, priority)
        try:
            self._wake()
        except OSError:  # a wake-up is an optimisation: the worker looks anyway, later
            log.debug("could not wake the queue's workers", exc_info=True)

    def dequeue(self):
        listener = self._listen()  # before the first look: a wake-up after it is not missed
        data = super().dequeue()
        if data is not None:
            return data
        if listener is None:
            time.sleep(self.poll_seconds)
        elif select.select([listener], [], [], self.check_seconds)[0]:
            _drain(listener)
        return super().dequeue()

    def _listen(self) -> socket.socket | None:
        with self._lock:
            if self._listener is not None and self._listener[0] == os.getpid():
                return self._listener[1]
            sock = None
            path = self.wake_dir / f"{os.getpid()}-{secrets.token_hex(4)}.sock"
            if len(os.fsencode(path)) <= _SOCKET_PATH_MAX:
                try:
                    self.wake_dir.mkdir(exist_ok=True)
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    sock.bind(str(path))
                    sock.setblocking(False)
                    weakref.finalize(self, _close_listener, sock, path)
                except OSError:
                    log.warning("no wake-up socket at %s; polling the queue", path, exc_info=True)
                    sock = None
            else:
                log.warning("%s is too long for a socket; polling the queue", path)
            self._listener = (os.getpid(), sock)
            return sock

    def _wake(self) -> None:
        try:
            names = os.listdir(self.wake_dir)
        except FileNotFoundError:  # no worker has waited here yet
            return
        with self._lock:
            if self._sender is None or self._sender[0] != os.getpid():
                self._sender = (os.getpid(), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM))
            sender = self._sender[1]
        for name in names:
            if not name.endswith(".sock"):
                continue
            path = self.wake_dir / name
            try:
                sender.sendto(b"!", socket.MSG_DONTWAIT, str(path))
            except (ConnectionRefusedError, FileNotFoundError):  # its worker is gone
                path.unlink(missing_ok=True)
            except BlockingIOError:  # its wake-ups are queued already: it will look
                pass


def _drain(sock: socket.socket) -> None:
    try:
        while sock.recv(64):
            pass
    except BlockingIOError:
        pass


def _close_listener(sock: socket.socket, path: Path) -> None:
    sock.close()
    path.unlink(missing_ok=True)


#: What grades an id taken off the queue in this process (``register_grader``): a worker's
#: ``Worker.run_grading`` while it serves; None in the web app, which only enqueues.
_grader: Callable[[int], object] | None = None


def register_grader(grader: Callable[[int], object] | None) -> None:
    """A worker, at start: grade each id its consumer takes off the queue with ``grader``
    (``None`` when it stops). The task itself is registered by every ``make_huey`` under
    the same name, so the web app enqueues without importing the worker."""
    global _grader
    _grader = grader


def _grade(grading_id: int) -> None:
    grader = _grader
    if grader is None:
        raise RuntimeError("no worker runs in this process (start one with `assay worker`)")
    grader(grading_id)


def _no_consumer(dry_run_id: int) -> None:
    # Dry runs are taken by the worker's dry-run lane (server/dryrun_lane.py), never by a
    # Huey consumer; registered only so that messages have a task to name.
    raise RuntimeError("dry runs are run by a worker's dry-run lane")


_lock = threading.Lock()
_hueys: dict[tuple[str, str, str], Huey] = {}


def get_huey(
    instance: Path | str | None = None, url: str | None = None, name: str = "assay"
) -> Huey:
    """This process's Huey for ``instance``/``url`` (default: from the environment), made once.

    ``name``: ``DRY_RUN_QUEUE`` for the dry runs' own queue (``get_dry_run_huey``).
    """
    if instance is None:
        from server.config import instance_folder

        instance = instance_folder()
    if url is None:
        url = declared.current().queue_url
    key = (str(Path(instance).resolve()), url, name)
    with _lock:
        if key not in _hueys:
            _hueys[key] = make_huey(key[0], url, name)
        return _hueys[key]


def get_dry_run_huey(instance: Path | str | None = None, url: str | None = None) -> Huey:
    """The dry runs' queue for ``instance``/``url``: the same storage, its own name."""
    return get_huey(instance, url, DRY_RUN_QUEUE)


def enqueue_dry_run(huey: Huey, dry_run_id: int) -> None:
    """Put a wake-up message for dry run ``dry_run_id`` on the dry runs' queue."""
    huey.enqueue(huey.assay_dry_run.s(dry_run_id))


def pending_dry_run_ids(huey: Huey) -> set[int]:
    """Dry run ids with a message waiting (read by the lane's sweep)."""
    return {int(t.args[0]) for t in huey.pending() if t.name == DRY_RUN_TASK and t.args}


def enqueue_grading(huey: Huey, grading_id: int) -> None:
    """Put a wake-up message for ``grading_id`` on the queue."""
    huey.enqueue(huey.assay_grade.s(grading_id))


def pending_ids(huey: Huey) -> set[int]:
    """Grading ids with a message waiting on the queue (read by the sweeper)."""
    return set(pending_messages(huey))


def pending_messages(huey: Huey) -> list[int]:
    """The grading id of each message waiting on the queue, duplicates kept (each one wakes
    a worker that claims the next grading in the fair order)."""
    return [int(task.args[0]) for task in huey.pending() if task.name == GRADE_TASK and task.args]
