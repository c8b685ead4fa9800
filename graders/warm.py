"""Warm train sandboxes: started before a grading arrives, so the candidate never waits for
a sandbox to start or for ``import tensorflow`` (4-5 s in the image, most of a start-up).

A ``WarmSlot`` is one train sandbox whose harness has imported TensorFlow, Keras and NumPy
and waits, with no candidate code, no data and no job, until the host creates
``ready/go`` in its read-only input folder (``graders.phases.EarlyPhase``). A grading hands
it its job: the submission, the train split and ``ready/job.json`` appear in that folder,
then ``go``. The train limit counts from the hand-over. A slot serves one job and ends with
it: ``hand_over`` refuses a second one, and the next grading gets a new sandbox (new
container or namespaces, new folders, the environment it was started with), so nothing of
one candidate reaches the next.

A ``WarmPool`` keeps ``size`` slots (the worker: one per grading thread). A slot's
replacement starts when the grading that took it ends, not during its training: on a small
machine a sandbox importing TensorFlow would take CPU from the candidate's code. A slot that waited longer than ``max_wait`` is replaced (the
grader image may have changed; it holds about 0.5 GB of memory); one that died is replaced,
and a grading that finds no usable slot, or whose slot dies before taking the job, is
graded in a cold sandbox as before: a warm slot can speed a grading up, never lose it.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from graders.phases import (
    EARLY_SLACK_SECONDS,
    GO_FILE,
    HARNESS,
    READY_DIR,
    EarlyPhase,
    PhaseFailed,
    PhaseRun,
    phase_limits,
    write_job,
)
from graders.progress import Progress
from sandbox.base import Limits, Sandbox
from sandbox.errors import SandboxError
from sandbox.lifecycle import make_work_dir, track, untrack
from sandbox.paths import make_readable
from sandbox.settings import current

log = logging.getLogger(__name__)

#: How often the pool looks for dead or stale idle slots.
CHECK_SECONDS = 5.0
HANDOVER = f"/job/{READY_DIR}/job.json"


class WarmSlotSpent(RuntimeError):
    """``hand_over`` was called on a slot that already had its one job."""


@dataclass(frozen=True)
class Shape:
    """What a warm sandbox was started with: limits (``wall_seconds`` is the longest train
    limit it can serve) and environment. A grading fits a slot of the same shape."""

    limits: Limits
    env: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, limits: Limits, env: dict | None = None) -> Shape:
        return cls(limits, tuple(sorted((env or {}).items())))

    def fits(self, limits: Limits, env: dict | None = None) -> bool:
        """A grading with these train limits and environment can run in this shape."""
        same = replace(limits, wall_seconds=self.limits.wall_seconds) == self.limits
        return (
            same
            and limits.wall_seconds <= self.limits.wall_seconds
            and self.env == tuple(sorted((env or {}).items()))
        )

    def widened(self, limits: Limits, env: dict | None = None) -> Shape:
        """This shape changed to serve ``limits``; keeps the longer wall limit of the two."""
        wall = max(limits.wall_seconds, self.limits.wall_seconds)
        return Shape.of(replace(limits, wall_seconds=wall), env)


def shape_for(challenge, tier: str | None = None, options=None) -> Shape:
    """The shape of a train sandbox for ``challenge`` on ``tier`` (default: its default tier)."""
    from graders.pipeline import GradeOptions

    options = options or GradeOptions()
    tier = tier or options.tier or challenge.spec.dataset.default_tier
    return Shape.of(phase_limits(challenge, "train", tier, options), options.extra_env)


def default_shape() -> Shape | None:
    """A shape that serves every registered challenge's default tier, if one can.

    The launch challenges differ only in their train time, so one shape with the longest
    limit serves both. None when they differ in more (the pool then learns from gradings).
    """
    from graders.challenges import all_challenges

    shape = None
    for challenge in all_challenges().values():
        own = shape_for(challenge)
        if shape is not None and not shape.fits(replace(own.limits, wall_seconds=1), dict(own.env)):
            return None
        shape = own if shape is None else shape.widened(own.limits, dict(own.env))
    return shape


class WarmSlot:
    """One warm train sandbox; ``hand_over`` gives it its one job."""

    def __init__(self, sandbox: Sandbox, shape: Shape, max_wait: float | None = None):
        #: How long it may wait for a grading before it is replaced (``ASSAY_WARM_SECONDS``).
        self.shape, self.max_wait = shape, current().warm_seconds if max_wait is None else max_wait
        self.work = make_work_dir("warm")
        self._token = track(f"folder {self.work}", self._remove_folder)
        self.work.chmod(0o711)  # the sandbox's user traverses it, never lists it
        folder = self.work / "train-in"
        folder.mkdir(mode=0o755)
        shutil.copyfile(HARNESS, folder / "harness.py")
        # No job yet: only where it will appear. The harness imports, then waits for go.
        write_job(
            folder,
            {
                "phase": "train",
                "start_when": f"/job/{READY_DIR}/{GO_FILE}",
                "handover": HANDOVER,
                "output": "/out",
            },
        )
        self.folder = folder
        self.started_at = time.monotonic()
        self._lock = threading.Lock()
        self.used = False
        self.early = EarlyPhase(
            sandbox,
            "train",
            folder,
            self.work,
            shape.limits,
            max_wait + EARLY_SLACK_SECONDS,
            dict(shape.env),
            None,
        )

    def age(self) -> float:
        return time.monotonic() - self.started_at

    def usable(self) -> bool:
        """Unused, still running and young enough to serve a whole train limit."""
        return not self.used and self.early.alive() and self.age() < self.max_wait

    def hand_over(
        self,
        submission: Path,
        make_job: Callable[[Path, str], dict],
        limits: Limits,
        work: Path,
        progress: Progress | None = None,
        cancel=None,
        on_start: Callable[[], None] | None = None,
    ) -> PhaseRun | None:
        """Give the sandbox its job and run it within ``limits`` (counted from now).

        ``make_job(folder, submission_path)`` stages the data in ``folder`` and returns the
        job; ``on_start`` is called once the sandbox is told to start (``EarlyPhase.go``).
        The trained output is moved to ``work/train-out``. Returns None when the
        sandbox died before its harness took the job (the caller grades cold); a slot
        takes one job only (``WarmSlotSpent``) and is removed afterwards.
        """
        with self._lock:
            if self.used:
                raise WarmSlotSpent("this warm sandbox already had its job")
            self.used = True
        try:
            name = "solution" + submission.suffix
            shutil.copyfile(submission, self.folder / name)
            job = make_job(self.folder, f"/job/{name}")
            write_job(self.early.ready, job)  # ready/job.json, with the slot's progress FIFO
            # Files added after the start: the backend made the folder readable before them.
            make_readable(self.folder)
            self.early.limits = limits
            self.early.progress = progress
            try:
                trained = self.early.go(cancel, on_start)
            except (PhaseFailed, SandboxError) as exc:
                if self.early.started.is_set() or (cancel is not None and cancel.is_set()):
                    raise
                log.warning("warm sandbox died before it took the job (%s); grading cold", exc)
                return None
            out = work / "train-out"
            shutil.move(trained.out, out)
            return PhaseRun(trained.result, trained.run, out, warm=True)
        finally:
            self.close()

    def close(self) -> None:
        """Kill the sandbox if it still runs and remove its folders."""
        self.early.abandon()
        self._remove_folder()
        untrack(self._token)

    def _remove_folder(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


class WarmPool:
    """Idle warm slots for one sandbox backend: ``take`` one per grading, each used once.

    ``shape`` is what slots are started with before the first grading (None: nothing warms
    until a grading shows its limits); each ``take`` widens it to the grading's limits, so
    the next slot fits the same kind of grading. Thread-safe.
    """

    def __init__(
        self,
        sandbox: Sandbox,
        shape: Shape | None = None,
        size: int = 1,
        max_wait: float | None = None,
        check_seconds: float = CHECK_SECONDS,
    ):
        self.sandbox, self.shape, self.size = sandbox, shape, size
        self.max_wait = current().warm_seconds if max_wait is None else max_wait
        self._idle: list[WarmSlot] = []
        self._busy = 0  # gradings holding the pool (``holding``)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._closing: list[threading.Thread] = []  # slots being removed (``_close_later``)
        #: Counters for logs, tests and the bench.
        self.started = self.replaced = self.served = 0
        self._fill()
        self._checker = threading.Thread(
            target=self._check_forever, args=(check_seconds,), name="warm-pool", daemon=True
        )
        self._checker.start()

    @contextlib.contextmanager
    def holding(self):
        """Around one grading: while it runs, its slot is not replaced, so no sandbox imports
        TensorFlow on the CPUs the candidate's training uses; the replacement starts when the
        grading ends. At most ``size`` slots, idle or in use, exist at a time."""
        with self._lock:
            self._busy += 1
        try:
            yield self
        finally:
            with self._lock:
                self._busy -= 1
            self._fill()

    def take(self, limits: Limits, env: dict | None = None) -> WarmSlot | None:
        """An idle slot that fits this grading's train limits, or None (grade cold).

        The pool's shape follows this kind of grading; a replacement starts once the
        grading ends (``holding``), or at the next check when nothing holds the pool.
        """
        with self._lock:
            self._drop_unusable()
            chosen = next((s for s in self._idle if s.shape.fits(limits, env)), None)
            if chosen is not None:
                self._idle.remove(chosen)
                self.served += 1
            self.shape = self.shape.widened(limits, env) if self.shape else Shape.of(limits, env)
            # Slots of another shape hold memory for gradings that may not come: drop them.
            for slot in [s for s in self._idle if s.shape != self.shape]:
                self._idle.remove(slot)
                self._close_later(slot)
        return chosen

    def idle(self) -> list[WarmSlot]:
        """The idle slots now (for tests and the bench)."""
        with self._lock:
            return list(self._idle)

    def check(self) -> None:
        """Replace idle slots that died or waited too long; top the pool up to ``size``."""
        with self._lock:
            self._drop_unusable()
        self._fill()

    def close(self, timeout: float = 30.0) -> None:
        """Stop refilling and remove every idle slot; returns once they are removed."""
        self._closed.set()
        # The checker may be starting a slot right now: let it finish, so that slot is
        # removed here too instead of running on after the pool is gone.
        if self._checker is not threading.current_thread():
            self._checker.join(timeout)
        with self._lock:
            slots, self._idle = self._idle, []
            closing, self._closing = self._closing, []
        for slot in slots:
            slot.close()
        for thread in closing:
            thread.join(timeout)

    def _drop_unusable(self) -> None:
        for slot in [s for s in self._idle if not s.usable()]:
            why = "died" if not slot.early.alive() else "waited too long"
            log.info("warm sandbox %s: replacing it", why)
            self._idle.remove(slot)
            self.replaced += 1
            self._close_later(slot)

    def _fill(self) -> None:
        while not self._closed.is_set():
            with self._lock:
                if self._closed.is_set():  # close() may have emptied the pool meanwhile
                    return
                if self.shape is None or len(self._idle) + self._busy >= self.size:
                    return
                try:
                    slot = WarmSlot(self.sandbox, self.shape, self.max_wait)
                except (OSError, SandboxError):
                    log.exception("could not start a warm sandbox")
                    return
                self._idle.append(slot)
                self.started += 1

    def _check_forever(self, every: float) -> None:
        while not self._closed.wait(every):
            try:
                self.check()
            except Exception:  # the pool must keep going; gradings fall back to cold
                log.exception("warm pool check failed")

    def _close_later(self, slot: WarmSlot) -> None:
        """Close ``slot`` on a thread of its own (removing a container takes a moment);
        ``close`` waits for it. Called with the lock held."""
        self._closing = [t for t in self._closing if t.is_alive()]
        thread = threading.Thread(target=slot.close, name="warm-close", daemon=True)
        thread.start()
        self._closing.append(thread)
