"""A submission's grading progress as the candidate's status page shows it: the dry run, the
queue (position, expected start and finish), the live events (phase, epoch, loss) and, once
finished, the report's verdict, metrics and log tail.

Read from the Grading and ProgressEvent rows: the report through ``Grading.report`` (typed,
parsed once), the events through ``event_data`` (each event's JSON read here only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from graders.report import Report
from server import invitations
from server.models import Invitation, Submission, utcnow


@dataclass(frozen=True)
class Check:
    """One bar of the verdict: a metric, the candidate's value, the bar, and which way is up."""

    label: str
    value: float | None
    bar: float | None
    met: bool
    higher_is_better: bool = True
    #: The metric's code: the page shows its label in the reader's language.
    metric: str = ""


@dataclass
class Progress:
    """What the status page shows for one submission, read from Grading and ProgressEvent rows."""

    status: str  # checking | check_failed | queued | running | graded | failed
    phase: str = ""  # train | predict | score
    epoch: int | None = None
    epochs: int | None = None
    loss: float | None = None
    predicted: int | None = None
    position: int | None = None
    #: Expected start and finish (``server.fairqueue``'s schedule of the measured runs);
    #: ``estimate_missing`` says why there are none (``no_worker``, ``unmeasured``).
    starts_at: datetime | None = None
    finishes_at: datetime | None = None
    estimate_missing: str = ""
    #: ``"gpu"`` while a queued grading needs a GPU and no GPU worker is alive (placement).
    waiting_for: str = ""
    passed: bool | None = None
    error_code: str | None = None
    error_message: str = ""
    #: The upload's dry run (``server.dryruns.DryRunView``), None for uploads before them.
    dry_run: object = None
    metrics: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    log_tail: str = ""


def progress(session: Session, submission: Submission, now: datetime | None = None) -> Progress:
    from server.dryruns import is_verdict, view

    check = view(submission.dry_runs[-1] if submission.dry_runs else None)
    grading = submission.latest
    if grading is None:
        if check is None or check.status in ("queued", "running"):
            return Progress(status="checking" if check else "queued", dry_run=check)
        if is_verdict(check.code):
            return Progress(
                status="check_failed",
                dry_run=check,
                error_code=check.code,
                error_message=check.message,
                log_tail=check.log_tail,
            )
        return Progress(status="queued", dry_run=check)  # the grading is on its way
    result = Progress(status=grading.status, passed=grading.passed, error_code=grading.error_code)
    result.dry_run = check
    if grading.status in ("queued", "running"):
        _estimate(session, grading, result, now or utcnow())
    if grading.status == "queued":
        from server.placement import waiting_for

        result.waiting_for = waiting_for(session, grading)
    for event in grading.events:
        _apply_event(result, event.kind, event_data(event.data_json))
    report = grading.report
    if report is not None:
        _apply_report(result, report)
    return result


def _estimate(session: Session, grading, result: Progress, now: datetime) -> None:
    from server import fairqueue

    plan = fairqueue.schedule(session, now)
    slot = plan.slots.get(grading.id)
    if grading.status == "queued":
        result.position = fairqueue.position(session, grading)
    if slot is not None:
        result.starts_at, result.finishes_at = slot.start, slot.finish
    elif grading.status == "queued":
        result.estimate_missing = "no_worker" if plan.capacity == 0 else "unmeasured"


def graded_after_the_end(
    invitation: Invitation, submission: Submission, state: Progress, now: datetime | None = None
) -> datetime | None:
    """The end of the candidate's time when ``submission`` came in before it but is graded
    after it (the page then says that it still counts); None otherwise.

    Nothing in grading looks at the clock: what was accepted is graded, however late the
    queue reaches it.
    """
    if state.status not in ("queued", "running"):
        return None
    ends = invitations.time_ends_at(invitation)
    if ends is None or submission.created_at >= ends:
        return None
    now = now or utcnow()
    expected = state.finishes_at or now
    return ends if max(now, expected) >= ends else None


def event_data(text: str) -> dict:
    """A stored progress event's data (``ProgressEvent.data_json``); {} when unreadable."""
    try:
        value = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _apply_event(result: Progress, kind: str, data: dict) -> None:
    # Display only: candidate code can forge these, so nothing is decided on them.
    if kind == "status":
        # Written by the platform only (graders.progress drops this kind from the sandbox):
        # a new try or a requeue starts the display afresh, so a killed try's epochs and
        # phase never show beside the true status.
        result.phase, result.epoch, result.epochs, result.loss, result.predicted = (
            "",
            None,
            None,
            None,
            None,
        )
    elif kind == "phase" and isinstance(data.get("phase"), str):
        result.phase = data["phase"][:16]
    elif kind == "epoch":
        result.phase = "train"
        result.epoch, result.epochs = _int(data.get("epoch")), _int(data.get("epochs"))
        logs = data.get("logs") if isinstance(data.get("logs"), dict) else {}
        loss = logs.get("loss")
        result.loss = float(loss) if isinstance(loss, int | float) else None
    elif kind == "predicted":
        result.phase, result.predicted = "predict", _int(data.get("n"))


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _apply_report(result: Progress, report: Report) -> None:
    test_metrics = report.test.metrics if report.test is not None else []
    result.metrics = [(m.label or m.name, m.value) for m in test_metrics if m.value is not None]
    checks = report.verdict.checks if report.verdict is not None else []
    result.checks = [
        Check(
            label=c.label or c.metric,
            value=None if c.value is None else float(c.value),
            bar=None if c.bar is None else float(c.bar),
            met=c.met,
            higher_is_better=c.higher_is_better,
            metric=c.metric,
        )
        for c in checks
    ]
    error = report.error
    result.error_code = result.error_code or (error.code if error is not None else None)
    result.error_message = error.message if error is not None else ""
    result.log_tail = report.failure_log()
