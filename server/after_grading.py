"""After-grading steps: what a worker does once a grading is stored graded or failed.

Each step is named and registered in one place (``standard_steps``, at the worker's start),
then run in the order registered, each on its own: a step that raises is logged with its
name and the grading's id and the next one runs; the grading's stored result is never
touched (the steps run after its commit). Like INGInious's ``submission_done`` hooks.

A step is a callable taking the grading id and opening its own session (they run on the
grading's thread, after ``server.leases.finish`` committed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[int], None]


class AfterGrading:
    """The ordered, named after-grading steps of one worker process; call it with a grading id."""

    def __init__(self) -> None:
        self._steps: list[Step] = []

    def register(self, name: str, run: Callable[[int], None]) -> None:
        """Run ``run(grading_id)`` after every stored grading, after the steps registered
        before it. A name is registered once (a second registration is a mistake)."""
        if any(step.name == name for step in self._steps):
            raise ValueError(f"after-grading step {name!r} is registered already")
        self._steps.append(Step(name, run))

    @property
    def names(self) -> list[str]:
        return [step.name for step in self._steps]

    def __call__(self, grading_id: int) -> list[str]:
        """Run every step for ``grading_id``; returns the names of the steps that failed."""
        failed = []
        for step in self._steps:
            started = time.monotonic()
            try:
                step.run(grading_id)
            except Exception:  # one step's failure must not stop the others (a mail, a hook)
                log.exception("grading %s: after-grading step %r failed", grading_id, step.name)
                failed.append(step.name)
            else:
                log.info(
                    "grading %s: after-grading step %r done in %.2fs",
                    grading_id,
                    step.name,
                    time.monotonic() - started,
                )
        return failed


def standard_steps(factory, config) -> AfterGrading:
    """The worker's steps, in order: the candidate's mail, the recruiter's webhook, the
    report's stored page parts, the similarity check (a mail that fails does not stop the
    webhook)."""
    from server import similarity, webhooks
    from server.reviewing import stored

    steps = AfterGrading()
    steps.register("result mail", result_mail(factory, config))
    steps.register("webhook", webhooks.graded_hook(factory))
    steps.register("report pages", stored.after_grading(factory))  # rendered once
    steps.register("similarity", similarity.after_grading(factory))  # the flags, stored once
    return steps


def result_mail(factory, config) -> Callable[[int], None]:
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
