"""``assay worker``: takes gradings off the queue and grades them through the service.

One process runs a Huey consumer (``QueueSettings.threads`` grading threads) plus a sweeper
thread. Each message wakes the worker, which claims the next grading in the fair order
(``server.grading.claim_next``, ``server.fairqueue``: lanes, round-robin across assessments,
one in flight per candidate; a message that finds nothing claimable is dropped), calls
``graders.service.grade_submission``, and writes the report, fenced by its lease. While the grading runs, the service's heartbeat
events renew the lease and its progress events become ``ProgressEvent`` rows.

Stopping and dying:

- at start, the leftovers of dead graders (containers, cgroups, work folders) are removed
  (``sandbox.reaper.reap``) and expired leases are swept at once;
- SIGTERM or SIGINT cancels every running grading: each one's sandboxes are removed by the
  service on its way out, and the grading goes back to the queue without using a try or the
  candidate's attempt (``server.grading.release``). A second signal stops at once, after
  handing the gradings back and removing the sandboxes (``sandbox.lifecycle.cleanup_all``);
- SIGKILL leaves the lease to expire: another worker's sweeper puts the grading back, and
  the sandbox's janitor removes what the dead worker left.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from huey.consumer import Consumer

from graders.pipeline import GradeOptions
from graders.splits import new_secret
from sandbox import settings as declared
from server import fairqueue, grading, placement
from server.ops import configure_logging, log_context
from server.queue import QueueSettings, enqueue_grading, pending_messages

log = logging.getLogger(__name__)

_OPTION_FIELDS = {f.name for f in dataclasses.fields(GradeOptions)}


def grade_options(stored: dict, split_seed: str | None = None) -> GradeOptions:
    """``GradeOptions`` from a grading's stored options; keys it does not know are ignored.

    ``split_seed`` (the assessment's split secret) comes from the claim, never from the
    stored options: a ``split_seed`` key there is ignored."""
    unknown = set(stored) - _OPTION_FIELDS
    if unknown:
        log.warning("ignoring unknown grading options: %s", ", ".join(sorted(unknown)))
    known = {k: v for k, v in stored.items() if k in _OPTION_FIELDS and k != "split_seed"}
    return GradeOptions(**known, split_seed=split_seed)


class ProgressRecorder:
    """The service's progress callback for one claim; called from the service's threads.

    Each write uses its own session. Heartbeats renew the lease instead of being stored; a
    renewal refused means the lease was lost, and the grading is cancelled. Epoch events are
    throttled to one per ``epoch_seconds`` (a held one is written before the next event of
    another kind, or on ``close``), so a fast ``fit`` does not flood the database.
    """

    def __init__(self, factory, claim: grading.Claim, settings: QueueSettings, cancel):
        self.factory, self.claim, self.settings, self.cancel = factory, claim, settings, cancel
        self.lost = False
        self._renewed_at = time.monotonic()
        self._lock = threading.Lock()
        self._last_epoch = float("-inf")
        self._held: dict | None = None

    def __call__(self, event: dict) -> None:
        if event.get("event") == "heartbeat":
            self._renew()
            return
        with self._lock:
            if event.get("event") == "epoch":
                now = time.monotonic()
                last = event.get("epoch") == event.get("epochs")
                if now - self._last_epoch < self.settings.epoch_seconds and not last:
                    self._held = event
                    return
                self._last_epoch, self._held = now, None
            elif self._held is not None:
                self._write(self._held)
                self._held = None
            self._write(event)

    def close(self) -> None:
        """Write a held epoch event, if any."""
        with self._lock:
            if self._held is not None:
                self._write(self._held)
                self._held = None

    def _write(self, event: dict) -> None:
        try:
            with self.factory() as session:
                grading.record_event(session, self.claim, event)
        except Exception:  # display only: a lost event must not fail the grading
            log.exception("grading %s: progress event not stored", self.claim.grading_id)

    def _renew(self) -> None:
        try:
            with self.factory() as session:
                held = grading.heartbeat(session, self.claim, self.settings.lease_seconds)
        except Exception:  # a busy or unreachable database: the next heartbeat tries again
            log.exception("grading %s: lease not renewed", self.claim.grading_id)
            # Unrenewed for a whole lease: another worker may hold it now; stop working for
            # a result that the fence would drop anyway.
            held = time.monotonic() - self._renewed_at < self.settings.lease_seconds
        else:
            self._renewed_at = time.monotonic() if held else self._renewed_at
        if not held and not self.lost:
            log.warning("grading %s: lease lost; cancelling this run", self.claim.grading_id)
            self.lost = True
            self.cancel.set()


class Worker:
    """What one ``assay worker`` process holds: sessions, queue, sandbox, running gradings."""

    def __init__(
        self,
        factory,
        huey,
        settings: QueueSettings,
        sandbox="auto",
        on_finished: Callable[[int], None] | None = None,
        warm=None,
        capacity: placement.Capacity | None = None,
    ):
        self.factory, self.huey, self.settings, self.sandbox = factory, huey, settings, sandbox
        #: What this worker can run (GPUs, gradings at once): ``server.placement``.
        self.capacity = capacity or placement.Capacity(gpus=0, slots=settings.threads)
        self.name = grading.worker_id()
        #: A ``graders.warm.WarmPool``: train sandboxes started ahead, one per grading thread.
        self.warm = warm
        #: The split secret of gradings with no assessment (submitted without an invitation):
        #: one per worker process, never stored, so their split is drawn once, not per grading.
        self._split_secret = new_secret()
        #: Called with the grading id once a grading is stored graded or failed (mail).
        self.on_finished = on_finished
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._active: dict[int, tuple[grading.Claim, threading.Event]] = {}
        self._sweeper: threading.Thread | None = None

    # -- one grading ---------------------------------------------------------------------------

    def run_grading(self, grading_id: int) -> str:
        """Woken by the message for ``grading_id``: claim the next grading in the fair order
        (often another one), grade and store it; returns what happened (logs and tests)."""
        with self.factory() as session:
            if fairqueue.order_policy() == fairqueue.FIFO:
                claim = self._claim_fifo(session, grading_id)
            else:
                claim = grading.claim_next(
                    session, self.settings.lease_seconds, gpu=self.capacity.gpus > 0
                )
            if claim is None:
                if not placement.may_take(session, grading_id, self.capacity):
                    return self._pass_on(session, grading_id)
                return "not claimed"
        with log_context(grading_id=claim.grading_id, submission_id=claim.submission_id):
            try:
                return self._run_claimed(claim.grading_id, claim)
            finally:
                self._wake_next_of_candidate(claim.grading_id)

    def _claim_fifo(self, session, grading_id: int):
        """``ASSAY_QUEUE_ORDER=fifo``: the message's own grading, as before the fair order."""
        if not placement.may_take(session, grading_id, self.capacity):
            return None
        return grading.claim(session, grading_id, self.settings.lease_seconds)

    def _wake_next_of_candidate(self, grading_id: int) -> None:
        """The candidate's next upload waited for this grading (one in flight each): wake it."""
        try:
            with self.factory() as session:
                waiting = grading.next_of_candidate(session, grading_id)
            if waiting is not None:
                enqueue_grading(self.huey, waiting)
        except Exception:  # the sweeper sends it a message in its next round
            log.exception("grading %s: could not wake the candidate's next grading", grading_id)

    def _run_claimed(self, grading_id: int, claim: grading.Claim) -> str:
        cancel = threading.Event()
        with self._lock:
            self._active[grading_id] = (claim, cancel)
        try:
            if self.stopping.is_set():  # took the message just as the stop began
                return self._release(claim, "the worker was stopping")
            outcome = self._grade(claim, cancel)
        except Exception as exc:  # ours: give it back as a platform failure with tries left
            log.exception("grading %s crashed in the worker", grading_id)
            outcome = self._store(claim, _crash_report(claim, exc))
        finally:
            with self._lock:
                self._active.pop(grading_id, None)
        log.info("grading %s (try %s): %s", grading_id, claim.tries, outcome)
        if outcome in ("graded", "failed") and self.on_finished is not None:
            try:
                self.on_finished(grading_id)
            except Exception:  # a mail that could not be sent must not undo the grading
                log.exception("grading %s: after-grading hook failed", grading_id)
        return outcome

    def _grade(self, claim: grading.Claim, cancel: threading.Event) -> str:
        from graders.service import grade_submission

        recorder = ProgressRecorder(self.factory, claim, self.settings, cancel)
        report = grade_submission(
            challenge=claim.challenge,
            source=claim.source,
            filename=claim.filename,
            sandbox=self.sandbox,
            options=grade_options(claim.options, claim.split_seed or self._split_secret),
            progress=recorder,
            cancel=cancel,
            warm=self.warm,
        )
        recorder.close()
        if recorder.lost:
            return "dropped"
        return self._store(claim, report)

    def _pass_on(self, session, grading_id: int) -> str:
        """A GPU grading reached this CPU worker: leave it queued for a GPU worker."""
        if placement.gpu_worker_alive(session):
            self.huey.assay_grade.schedule((grading_id,), delay=placement.BOUNCE_SECONDS)
            return "passed on to a GPU worker"
        # No GPU worker: the sweeper re-sends a message each round, and the status page
        # says that the grading waits for one (server.placement.waiting_for).
        return "waits for a GPU worker"

    def _store(self, claim, report) -> str:
        with self.factory() as session:
            return grading.finish(session, claim, report, stopping=self.stopping.is_set())

    def _release(self, claim, reason: str) -> str:
        with self.factory() as session:
            return "requeued" if grading.release(session, claim, reason) else "dropped"

    # -- sweeping ------------------------------------------------------------------------------

    def sweep(self) -> None:
        """Requeue expired leases and re-send lost messages (any worker may, at any time)."""
        with self.factory() as session:
            placement.heartbeat(session, self.name, self.capacity)
        with self.factory() as session:
            done = grading.requeue_expired(session)
        for kind, ids in done.items():
            if ids:
                log.warning("expired leases %s: %s", kind, ids)
        messages = pending_messages(self.huey)
        with self.factory() as session:
            lost = grading.lost_messages(
                session,
                set(messages),
                older_than=self.settings.sweep_seconds,
                waiting=len(messages),
            )
        for grading_id in lost:
            log.warning("grading %s is queued without a message; sending one", grading_id)
            enqueue_grading(self.huey, grading_id)

    def _sweep_forever(self) -> None:
        while not self.stopping.wait(self.settings.sweep_seconds):
            try:
                self.sweep()
            except Exception:  # a busy or unreachable database: try again next round
                log.exception("sweep failed")

    def start_sweeper(self) -> None:
        self._sweeper = threading.Thread(target=self._sweep_forever, name="sweeper", daemon=True)
        self._sweeper.start()

    # -- stopping ------------------------------------------------------------------------------

    def begin_stop(self) -> None:
        """Stop taking work and cancel every running grading (each is handed back)."""
        self.stopping.set()
        with self._lock:
            running = list(self._active.values())
        for _claim, cancel in running:
            cancel.set()
        log.info("stopping: cancelled %d running grading(s)", len(running))

    def hand_back_all(self, reason: str) -> int:
        """Release every grading still marked running here (threads that did not finish)."""
        with self._lock:
            running = list(self._active.values())
        handed = 0
        for claim, _cancel in running:
            try:
                handed += self._release(claim, reason) == "requeued"
            except Exception:  # the lease then expires and a sweeper requeues it
                log.exception("grading %s not handed back", claim.grading_id)
        return handed

    def running(self) -> list[int]:
        with self._lock:
            return list(self._active)


def _crash_report(claim: grading.Claim, exc: BaseException):
    from graders.report import ErrorInfo, Report

    return Report(
        challenge=claim.challenge,
        title="",
        dataset="",
        tier="",
        status="failed",
        error=ErrorInfo(
            code="platform_error", message=f"{type(exc).__name__}: {exc}", phase="worker"
        ),
    )


class WorkerConsumer(Consumer):
    """Huey's consumer, with SIGTERM and SIGINT both meaning: cancel, hand back, stop."""

    def __init__(self, worker: Worker, **options):
        self.worker = worker
        super().__init__(worker.huey, **options)

    def _handle_signal(self, signum, frame):
        if signum not in (signal.SIGTERM, signal.SIGINT):
            return super()._handle_signal(signum, frame)
        log.info("received %s", signal.Signals(signum).name)
        self.worker.begin_stop()
        self._signum, self._restart, self._graceful = signum, False, True
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop_now)

    def _stop_now(self, signum, frame):
        # A second signal: do not wait for the gradings; hand them back, remove the sandboxes.
        from sandbox.lifecycle import cleanup_all

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        self.worker.hand_back_all("the worker was stopped at once")
        cleanup_all()
        os._exit(128 + signum)


_current: Worker | None = None


def run_grading(grading_id: int) -> None:
    """The queue task: grade ``grading_id`` in this process's worker."""
    if _current is None:
        raise RuntimeError("no worker runs in this process (start one with `assay worker`)")
    _current.run_grading(grading_id)


def serve(worker: Worker, lane=None) -> None:
    """Run ``worker`` until SIGTERM/SIGINT: reap, sweep, consume; hand back what is left.

    ``lane``: a ``server.dryrun_lane.DryRunLane``, started beside the grading threads.
    """
    global _current
    _current = worker
    settings = worker.settings
    _reap_leftovers()
    with worker.factory() as session:
        placement.register(session, worker.name, worker.capacity)
        session.commit()
    worker.sweep()
    worker.start_sweeper()
    if lane is not None:
        lane.start()
    consumer = WorkerConsumer(
        worker,
        workers=settings.threads,
        periodic=False,
        initial_delay=settings.poll_seconds,
        max_delay=settings.poll_seconds,
        backoff=1.0,
        worker_type="thread",
        shutdown_timeout=settings.shutdown_seconds,
    )
    try:
        consumer.run()
    finally:
        worker.stopping.set()
        if lane is not None:
            lane.stop()
        if worker.warm is not None:
            worker.warm.close()
        left = worker.hand_back_all("the worker stopped before the grading ended")
        try:
            with worker.factory() as session:
                placement.unregister(session, worker.name)
        except Exception:  # the database is gone: the row ages out of the registry
            log.exception("could not remove this worker from the registry")
        if left:
            from sandbox.lifecycle import cleanup_all

            cleanup_all()
        _current = None


def _reap_leftovers() -> None:
    try:
        from sandbox.reaper import reap

        reaped = reap()
    except Exception:  # cleaning is best effort; the janitors and expiry labels remain
        log.exception("could not reap leftovers of dead graders")
        return
    if reaped.removed:
        log.info(
            "removed leftovers of dead graders: %d container(s), %d cgroup(s), %d folder(s)",
            len(reaped.containers),
            len(reaped.cgroups),
            len(reaped.folders),
        )


def main(*, threads: int | None = None, sandbox: str | None = None) -> None:
    """``assay worker``: migrate the instance, then grade from its queue until stopped."""
    from server.config import Config
    from server.db import make_engine, make_session_factory
    from server.migrate import upgrade
    from server.queue import get_huey

    env = declared.load()  # once, at start: a bad value stops the worker here, named
    configure_logging(log_format=env.log_format)  # text, or JSON lines with the grading's ids
    for line in declared.unknown():
        log.warning("%s", line)
    config = Config(settings=env)
    settings = QueueSettings.from_env(env)
    settings = dataclasses.replace(
        settings, threads=threads or settings.threads, sandbox=sandbox or settings.sandbox
    )
    upgrade(config.DATABASE_URL, Path(config.INSTANCE_PATH))
    factory = make_session_factory(make_engine(config.DATABASE_URL))
    huey = get_huey(config.INSTANCE_PATH, config.QUEUE_URL)
    grading.use_queue(factory, huey)
    log.info(
        "worker %s: %d thread(s), lease %gs, sandbox %s, queue %s",
        grading.worker_id(),
        settings.threads,
        settings.lease_seconds,
        settings.sandbox,
        config.QUEUE_URL or "sqlite",
    )
    mail = _result_mail(factory, config)
    from server import webhooks

    webhooks.register_task(huey)
    webhooks.use_sessions(factory)
    from server import retention

    retention.start_thread(factory)  # candidates' data past their assessment's retention period
    hook = webhooks.graded_hook(factory)
    from server import similarity

    flags = similarity.after_grading(factory)  # stored once: the report page only reads them
    similarity.start_thread(factory)  # and submissions never checked (older ones) in the back
    from server.review import stored

    pages = stored.after_grading(factory)  # the report's code and plots, rendered once

    def finished(grading_id: int) -> None:
        for step in (mail, hook, pages, flags):  # a mail that fails must not stop the webhook
            try:
                step(grading_id)
            except Exception:
                log.exception("grading %s: after-grading step failed", grading_id)

    chosen = _sandbox(settings.sandbox)
    warm = _warm_pool(chosen, settings.threads, env.warm)
    capacity = placement.Capacity.from_env(settings.threads, env)
    log.info("capacity: %d GPU(s), %d grading(s) at once", capacity.gpus, capacity.slots)
    serve(
        Worker(factory, huey, settings, chosen, on_finished=finished, warm=warm, capacity=capacity),
        _dry_run_lane(factory, config, settings, chosen),
    )


def _dry_run_lane(factory, config, settings: QueueSettings, sandbox):
    """The uploads' dry runs on a thread of their own, with a warm sandbox of their own."""
    from server import dryruns
    from server.dryrun_lane import DryRunLane, warm_pool
    from server.queue import get_dry_run_huey

    huey = get_dry_run_huey(config.INSTANCE_PATH, config.QUEUE_URL)
    dryruns.use_queue(factory, huey)
    return DryRunLane(factory, huey, settings, sandbox, warm_pool(sandbox, config.settings.warm))


def _result_mail(factory, config) -> Callable[[int], None]:
    """Mail the candidate "your result is ready" once their grading is stored."""

    def send(grading_id: int) -> None:
        from server.mail import send_result_ready
        from server.models import Grading

        with factory() as session:
            invitation_id = session.get(Grading, grading_id).submission.invitation_id
            if invitation_id is not None:
                send_result_ready(session, invitation_id, config.MAIL_URL, config.MAIL_SENDER)
                session.commit()

    return send


def _warm_pool(sandbox, threads: int, enabled: bool):
    """One warm train sandbox per grading thread (issue 14); none with ``ASSAY_WARM=0`` or
    while no backend runs."""
    from graders.warm import WarmPool, default_shape

    if isinstance(sandbox, str) or not enabled:
        return None
    log.info("keeping %d warm train sandbox(es)", threads)
    return WarmPool(sandbox, default_shape(), size=threads)


def _sandbox(name: str):
    """The backend, chosen once; a name again when none runs now (each grading then says so)."""
    from sandbox.errors import SandboxUnavailable
    from sandbox.registry import pick_sandbox

    try:
        chosen = pick_sandbox(name)
    except SandboxUnavailable as exc:
        log.error("%s; gradings will fail as sandbox_unavailable until one runs", exc)
        return name
    log.info("sandbox backend: %s", chosen.name)
    return chosen
