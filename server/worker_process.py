"""The ``assay worker`` process: start, consume the queue, stop (``server.worker`` grades).

``main`` migrates the instance, picks the sandbox backend once, keeps warm sandboxes, starts
the dry-run lane, the retention and similarity threads, registers the after-grading steps
(``server.after_grading``) and hands this process's ``Worker`` to the queue's grading task
(``server.queue.register_grader``), then runs Huey's consumer until SIGTERM/SIGINT
(``WorkerConsumer``: the first signal cancels and hands back, a second stops at once).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
from pathlib import Path

from huey.consumer import Consumer

from sandbox import settings as declared
from server import grading, leases, placement
from server.after_grading import standard_steps
from server.ops import configure_logging
from server.queue import QueueSettings, register_grader
from server.worker import Worker

log = logging.getLogger(__name__)


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


def serve(worker: Worker, lane=None) -> None:
    """Run ``worker`` until SIGTERM/SIGINT: reap, sweep, consume; hand back what is left.

    ``lane``: a ``server.dryrun_lane.DryRunLane``, started beside the grading threads.
    """
    settings = worker.settings
    _reap_leftovers()
    with worker.factory() as session:
        placement.register(session, worker.name, worker.capacity)
        session.commit()
    worker.sweep()
    worker.start_sweeper()
    register_grader(worker.run_grading)  # this process's consumer grades the queue's ids
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
        register_grader(None)


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
    from server.summary import listeners

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
    listeners.install()  # the candidates' summaries follow the gradings
    factory = make_session_factory(make_engine(config.DATABASE_URL))
    huey = get_huey(config.INSTANCE_PATH, config.QUEUE_URL)
    grading.use_queue(factory, huey)
    log.info(
        "worker %s: %d thread(s), lease %gs, sandbox %s, queue %s",
        leases.worker_id(),
        settings.threads,
        settings.lease_seconds,
        settings.sandbox,
        config.QUEUE_URL or "sqlite",
    )
    from server import webhooks

    webhooks.register_task(huey)
    webhooks.use_sessions(factory)
    from server import retention

    retention.start_thread(factory)  # candidates' data past their assessment's retention period
    from server import similarity

    similarity.start_thread(factory)  # submissions never checked (older ones), in the back
    finished = standard_steps(factory, config)  # mail, webhook, report pages, similarity
    log.info("after-grading steps: %s", ", ".join(finished.names))

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
