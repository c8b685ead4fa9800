"""The worker's dry-run lane: one thread of its own that takes uploads' dry runs at once.

Kept apart from the grading threads and from how they claim gradings: dry runs come on their
own queue (``server.queue.DRY_RUN_QUEUE``), and the lane keeps its own warm sandbox (a
``graders.warm.WarmPool`` of one slot shaped for dry runs, on the worker's backend), so a
candidate waits for neither a full grading nor a cold start. A dry run is short (one
training step on 48 examples, then save, load, predict): seconds, not minutes.

The lane's sweep (every ``sweep_seconds``) puts back dry runs whose lease expired and
re-sends lost messages (``server.dryruns``, rules 5 and 6).
"""

from __future__ import annotations

import logging
import threading

from graders.dryrun import WALL_SECONDS
from server import dryruns
from server.ops import log_context
from server.queue import QueueSettings, enqueue_dry_run, pending_dry_run_ids

log = logging.getLogger(__name__)

#: The lease beyond the dry run's own wall limit: a cold start, staging, the host's checks.
LEASE_SLACK_SECONDS = 120.0


class DryRunLane:
    """Takes dry runs off their queue on its own thread; ``run_dry_run`` does one (tests)."""

    def __init__(self, factory, huey, settings: QueueSettings, sandbox="auto", warm=None):
        self.factory, self.huey, self.settings, self.sandbox = factory, huey, settings, sandbox
        #: A ``graders.warm.WarmPool`` of dry-run-shaped sandboxes (None: every one cold).
        self.warm = warm
        self.stopping = threading.Event()
        self._cancel = threading.Event()
        self._threads: list[threading.Thread] = []

    def run_dry_run(self, dry_run_id: int) -> str:
        """Claim, run and store one dry run; what happened (for logs and tests)."""
        from graders.dryrun import dry_run

        lease = WALL_SECONDS + LEASE_SLACK_SECONDS
        with self.factory() as session:
            claim = dryruns.claim(session, dry_run_id, lease)
        if claim is None:
            return "not claimed"
        with log_context(dry_run_id=dry_run_id, submission_id=claim.submission_id):

            def progress(event: dict) -> None:
                if event.get("event") != "step":
                    return
                try:
                    with self.factory() as session:
                        dryruns.record_step(session, claim, event["step"])
                except Exception:  # display only
                    log.exception("dry run %s: step not stored", dry_run_id)

            result = dry_run(
                challenge=claim.challenge,
                source=claim.source,
                filename=claim.filename,
                sandbox=self.sandbox,
                warm=self.warm,
                progress=progress,
                cancel=self._cancel,
                tier=claim.tier,
                split_seed=claim.split_seed,
            )
            with self.factory() as session:
                outcome = dryruns.finish(session, claim, result)
            log.info("dry run %s: %s in %.1f s", dry_run_id, outcome, result.wall_seconds)
            return outcome

    # -- the thread ----------------------------------------------------------------------------

    def start(self) -> None:
        for target, name in ((self._serve, "dry-run-lane"), (self._sweep, "dry-run-sweep")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop taking dry runs; one running is cancelled (its lease expires, it runs again)."""
        self.stopping.set()
        self._cancel.set()
        for thread in self._threads:
            thread.join(timeout)
        if self.warm is not None:
            self.warm.close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                task = self.huey.dequeue()  # waits a moment when the queue is empty
            except Exception:  # the queue is unreachable: try again shortly
                log.exception("dry-run lane: could not read the queue")
                self.stopping.wait(self.settings.sweep_seconds)
                continue
            if task is None or not task.args:
                continue
            try:
                self.run_dry_run(int(task.args[0]))
            except Exception:  # ours; its lease expires and the sweep puts it back
                log.exception("dry run %s crashed in the lane", task.args[0])

    def _sweep(self) -> None:
        while not self.stopping.wait(self.settings.sweep_seconds):
            try:
                self.sweep()
            except Exception:
                log.exception("dry-run sweep failed")

    def sweep(self) -> None:
        with self.factory() as session:
            done = dryruns.requeue_expired(session)
        for kind, ids in done.items():
            if ids:
                log.warning("expired dry-run leases %s: %s", kind, ids)
        with self.factory() as session:
            lost = dryruns.lost_messages(
                session, pending_dry_run_ids(self.huey), older_than=self.settings.sweep_seconds
            )
        for dry_run_id in lost:
            enqueue_dry_run(self.huey, dry_run_id)


def warm_pool(sandbox, enabled: bool = True):
    """One warm sandbox shaped for dry runs (the launch challenges share their limits); none
    when not ``enabled`` (``ASSAY_WARM=0``)."""
    from graders.challenges import all_challenges
    from graders.dryrun import limits_for
    from graders.warm import Shape, WarmPool

    if isinstance(sandbox, str) or not enabled:
        return None
    shapes = {
        Shape.of(limits_for(c, c.spec.dataset.default_tier)) for c in all_challenges().values()
    }
    return WarmPool(sandbox, shapes.pop() if len(shapes) == 1 else None, size=1)
