"""Sandboxes that clean up after themselves, even when the grader does not.

Every container, cgroup and work folder a grader makes carries its **owner**: host, pid and
the process's start time (so a later process that reuses the pid is not taken for a live
owner). Three things remove them, from the gentlest to the last resort:

1. the code that made them, in ``finally`` (the normal path);
2. ``cleanup_all()``, run by the SIGTERM/SIGINT handlers that ``install_signal_handlers()``
   installs in the CLI and the worker: it removes what this process has live, then exits
   with 128 + the signal;
3. the **janitor**, a small process started with the first sandbox of a process, in its own
   session, holding the read end of a pipe whose write end only the grader has: when the
   grader dies, even by SIGKILL, the pipe reads EOF and the janitor removes everything its
   owner left (``sandbox.reaper.reap_owner``), then exits.

Docker containers also end themselves: pid 1 is ``sleep <wall limit + slack>`` and the
engine removes them when it exits. ``sandbox.reaper.reap()`` removes the leftovers of owners
that are gone (a worker runs it at start; so does ``assay sandbox reap``).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: Container labels: who made it, and when (unix time) it ends itself at the latest.
OWNER_LABEL = "assay.owner"
EXPIRES_LABEL = "assay.expires"
#: How long cleanup_all() may take in a signal handler before the process exits anyway.
CLEANUP_SECONDS = 4.0
_TAG = r"[0-9a-f]{6}-\d+-\d+"
#: Names of owner-tagged work folders (in the temp folder) and cgroups.
FOLDER_NAME = re.compile(rf"^assay-[a-z]+-(?P<tag>{_TAG})-")
CGROUP_NAME = re.compile(rf"^assay-(?P<tag>{_TAG})-[0-9a-f]+$")


def _host_key(host: str) -> str:
    # Hostnames are long and may hold any character; names need a short, safe stand-in.
    return hashlib.sha1(host.encode()).hexdigest()[:6]


def process_start(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), or None when no such live process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    fields = stat[stat.rfind(b")") + 2 :].split()
    if fields[0] == b"Z":  # a zombie has ended; it only waits to be reaped
        return None
    return int(fields[19])


@dataclass(frozen=True)
class Owner:
    """The process that made a sandbox resource: host, pid and start time."""

    host: str
    pid: int
    start: int

    @classmethod
    def current(cls) -> Owner:
        """This process (recomputed after a fork, where the pid changes)."""
        pid = os.getpid()
        return cls(socket.gethostname(), pid, process_start(pid) or 0)

    @classmethod
    def of_pid(cls, pid: int) -> Owner | None:
        """The live process ``pid`` on this host, or None."""
        start = process_start(pid)
        return None if start is None else cls(socket.gethostname(), pid, start)

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        """An owner from its ``id`` (``host/pid/start``), or None when malformed."""
        host, _, rest = text.rpartition("/")
        host, _, pid = host.rpartition("/")
        if not (host and pid.isdigit() and rest.isdigit()):
            return None
        return cls(host, int(pid), int(rest))

    @property
    def id(self) -> str:
        """The owner as a label value: ``host/pid/start``."""
        return f"{self.host}/{self.pid}/{self.start}"

    @property
    def tag(self) -> str:
        """The owner in cgroup and folder names: ``hostkey-pid-start``."""
        return f"{_host_key(self.host)}-{self.pid}-{self.start}"

    def alive(self) -> bool | None:
        """Whether the owner still runs; None when it is on another host (cannot tell)."""
        if self.host != socket.gethostname():
            return None
        return process_start(self.pid) == self.start


def tag_alive(tag: str) -> bool | None:
    """``Owner.alive`` for a tag read from a name: None when it is another host's."""
    key, pid, start = tag.split("-")
    if key != _host_key(socket.gethostname()):
        return None
    return process_start(int(pid)) == int(start)


# -- what this process has live ----------------------------------------------------------------

_lock = threading.RLock()  # re-entrant: a signal handler may run while the main thread holds it
_live: dict[int, tuple[str, Callable[[], None]]] = {}
_tokens = itertools.count(1)
_janitor: tuple[int, subprocess.Popen, int] | None = None  # (our pid, janitor, pipe write end)
_told: set[str] = set()


def track(what: str, cleanup: Callable[[], None]) -> int:
    """Register a live sandbox resource and how to remove it; returns a token for ``untrack``.

    The first call of a process starts its janitor.
    """
    start_janitor()
    with _lock:
        token = next(_tokens)
        _live[token] = (what, cleanup)
    return token


def untrack(token: int) -> None:
    """The resource behind ``token`` was removed by its owner."""
    with _lock:
        _live.pop(token, None)


def live() -> list[str]:
    """What this process has live now (for logs and tests)."""
    with _lock:
        return [what for what, _ in _live.values()]


def cleanup_all(timeout: float = CLEANUP_SECONDS) -> int:
    """Remove everything this process has live, in parallel, within ``timeout`` seconds.

    Returns how many cleanups ran. Safe to call from a signal handler.
    """
    with _lock:
        items = list(_live.values())
        _live.clear()

    def run(what: str, cleanup: Callable[[], None]) -> None:
        try:
            cleanup()
        except Exception as exc:  # one failure must not stop the others
            log.warning("cleanup of %s failed: %s", what, exc)

    threads = [threading.Thread(target=run, args=item, daemon=True) for item in items]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return len(items)


def install_signal_handlers(signals=(signal.SIGTERM, signal.SIGINT)) -> None:
    """On SIGTERM/SIGINT: remove this process's sandboxes, then exit with 128 + the signal.

    For the CLI and the worker; call it from the main thread. The exit skips ``finally``
    blocks on purpose: what they would remove is gone, and a thread stuck waiting on a
    killed sandbox must not hold the process up.
    """

    def handler(signum, frame):
        # A second signal while cleaning up exits at once (the janitor finishes the job).
        for sig in signals:
            signal.signal(sig, lambda *_: os._exit(128 + signum))
        cleanup_all()
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(128 + signum)

    for sig in signals:
        signal.signal(sig, handler)


# -- owner-tagged work folders -------------------------------------------------------------------


def make_work_dir(purpose: str = "grade", owner: Owner | None = None) -> Path:
    """A new folder in the temp folder named ``assay-<purpose>-<owner tag>-<random>``.

    The caller removes it (``owned_work_dir`` does); if the process dies, the janitor or the
    reaper does.
    """
    if not re.fullmatch(r"[a-z]+", purpose):
        raise ValueError("purpose must be lowercase letters")
    owner = owner or Owner.current()
    return Path(tempfile.mkdtemp(prefix=f"assay-{purpose}-{owner.tag}-"))


@contextlib.contextmanager
def owned_work_dir(purpose: str = "grade") -> Iterator[Path]:
    """Like ``tempfile.TemporaryDirectory``, but tagged with its owner and tracked."""
    start_janitor()
    path = make_work_dir(purpose)
    token = track(f"folder {path}", lambda: shutil.rmtree(path, ignore_errors=True))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        untrack(token)


# -- the janitor ---------------------------------------------------------------------------------


def start_janitor() -> None:
    """Start this process's janitor, unless it runs already (once per process)."""
    global _janitor
    with _lock:
        if _janitor is not None and _janitor[0] == os.getpid():
            return
        read_end, write_end = os.pipe()  # not inheritable: no other child keeps it open
        root = str(Path(__file__).resolve().parent.parent)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        }
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "sandbox.janitor", Owner.current().id],
                stdin=read_end,
                stdout=subprocess.DEVNULL,  # a captured stdout would stay open until it ends
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # out of reach of the terminal's and timeout's signals
                cwd="/",
                env=env,
            )
        finally:
            os.close(read_end)
        _janitor = (os.getpid(), proc, write_end)
        _told.clear()


def tell_janitor(word: str) -> None:
    """Tell the janitor what to clean besides folders and cgroups, e.g. ``docker`` (once each).

    The janitor talks to the Docker engine only when told, so a machine without one is
    never asked for it.
    """
    start_janitor()
    with _lock:
        if word in _told:
            return
        _told.add(word)
        with contextlib.suppress(OSError):  # the janitor died: the reaper is the fallback
            os.write(_janitor[2], f"{word}\n".encode())


def janitor_pid() -> int | None:
    """The pid of this process's janitor, if it has one (tests)."""
    with _lock:
        if _janitor is None or _janitor[0] != os.getpid():
            return None
        return _janitor[1].pid
