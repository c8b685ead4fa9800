"""A grading's life on the worker side: queued -> running (under a lease) -> graded | failed,
and nothing stuck.

The rules, each enforced by one conditional UPDATE (atomic on SQLite and PostgreSQL alike):

1. **Claim.** ``queued -> running`` only if it is still queued and its candidate has no other
   grading running: of two workers that pick the same grading, exactly one wins (a unique
   index refuses a second running grading of one candidate, even at the same instant). The
   winner holds a lease: a fresh owner token (worker id plus a random part, new for every
   claim), an expiry, and ``tries + 1``. Which grading a worker picks is the fair order of
   ``server.fairqueue`` (``claim_next``), not the message's arrival.
2. **Heartbeat.** The service's heartbeat events renew the lease, only while the token
   still holds it. A worker whose renewal fails has lost the grading: it cancels its run.
3. **Finish, fenced.** A result is written only while the token still holds the lease. A
   late result from a worker that lost its lease (it was presumed dead, the grading was
   given to another) is dropped, never written twice.
4. **Expiry.** A running grading whose lease expired (the worker was killed, hung, lost its
   database) is put back in the queue by any worker's sweeper (``server.sweeper``); after
   ``max_tries`` tries it ends ``failed`` with ``platform_error`` and every try's reason in
   ``platform_note``.
5. **Who pays.** A candidate failure (the catalogue's ``audience == "candidate"``) uses the
   candidate's attempt. A platform failure never does (``Submission.counts_as_attempt`` is
   cleared) and is retried by itself while tries remain, when the catalogue says ``retry``.
6. **Shutdown.** A worker that is told to stop hands its gradings back (``release``): the
   try it had does not count, since the platform interrupted it, not the submission.
7. **Messages.** A queue message is only a wake-up call; the database row is the truth. Ids
   are enqueued after the commit that made them queued (never before: a worker could find
   nothing), a worker that ends a grading wakes the candidate's next one (held back by
   rule 1), and the sweeper tops the messages up to the claimable gradings.

Queueing a grading (``enqueue_submission``, ``regrade``: the web side, which leaves the
commit to the caller) lives in ``server.grading``; every function here commits its own step.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from graders.catalogue import error_info
from graders.options import OptionsError, loads_options
from graders.pipeline import GradeOptions
from graders.report import ErrorInfo, Report
from graders.verdicts import of_report
from server import fairqueue
from server.grading import enqueue_after_commit
from server.models.base import utcnow
from server.models.grading import (
    FAILED,
    GRADED,
    QUEUED,
    RUNNING,
    Grading,
    ProgressEvent,
    Submission,
)
from server.models.invitations import Invitation
from server.split_secrets import secret_for
from server.summary.changes import touch_submission

log = logging.getLogger(__name__)

NOTE_LIMIT = 500  # characters of one try's note


def worker_id() -> str:
    """This process, as staff read it in ``lease_owner`` and notes: ``host/pid``."""
    return f"{socket.gethostname()}/{os.getpid()}"


@dataclass(frozen=True)
class Claim:
    """A grading a worker holds: the lease token and what to grade."""

    grading_id: int
    owner: str
    tries: int
    max_tries: int
    submission_id: int
    challenge: str
    filename: str
    source: bytes = field(repr=False)
    #: The stored options, read strictly (``graders.options``); the defaults when they could
    #: not be read, and then ``options_error`` says why.
    options: GradeOptions
    #: The assessment's split secret (server/split_secrets.py), or None: the grading draws a
    #: fresh one. Never stored with the grading's options.
    split_seed: str | None = field(default=None, repr=False)
    started_at: datetime | None = None
    #: Why the stored options could not be read (a row stored before they were checked):
    #: the grading is not run but fails with this note (``refuse_options``).
    options_error: str = ""


def _fenced(claim: Claim):
    return sa.and_(
        Grading.id == claim.grading_id,
        Grading.status == RUNNING,
        Grading.lease_owner == claim.owner,
    )


def _update(session: Session, where, **values) -> bool:
    result = session.execute(
        sa.update(Grading)
        .where(where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def claim_next(
    session: Session, lease_seconds: float, *, gpu: bool = True, now: datetime | None = None
) -> Claim | None:
    """Take the next grading in the fair order that this worker may run (rule 1).

    ``gpu``: whether this worker has one (``server.placement``). None when nothing is
    claimable now: the queue is empty, or what waits belongs to busy candidates, needs a
    GPU, or was taken by other workers first.
    """
    heads = fairqueue.next_ids(session, gpu=gpu)
    session.rollback()
    for grading_id in heads:
        taken = claim(session, grading_id, lease_seconds, now)
        if taken is not None:
            return taken
    return None


def claim(
    session: Session, grading_id: int, lease_seconds: float, now: datetime | None = None
) -> Claim | None:
    """Take ``grading_id`` if it is still queued and its candidate has none running
    (rule 1); None when another worker has it or the candidate is busy."""
    now = now or utcnow()
    owner = f"{worker_id()}/{uuid.uuid4().hex[:12]}"
    try:
        won = _update(
            session,
            sa.and_(
                Grading.id == grading_id,
                Grading.status == QUEUED,
                Grading.tries < Grading.max_tries,
                fairqueue.candidate_free(),
            ),
            status=RUNNING,
            tries=Grading.tries + 1,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            heartbeat_at=now,
            started_at=now,
            finished_at=None,
        )
    except sa.exc.IntegrityError:  # the candidate's other upload was claimed at this instant
        won = False
    if not won:
        session.rollback()
        return None
    grading = session.get(Grading, grading_id, populate_existing=True)
    sub = grading.submission
    invitation = session.get(Invitation, sub.invitation_id) if sub.invitation_id else None
    split_seed = secret_for(session, invitation.assessment_id) if invitation else None
    _append_event(session, grading_id, {"event": "status", "status": RUNNING, "try": grading.tries})
    session.commit()
    try:
        options, options_error = loads_options(grading.options_json), ""
    except OptionsError as exc:
        options, options_error = GradeOptions(), str(exc)
    return Claim(
        grading_id=grading_id,
        owner=owner,
        tries=grading.tries,
        max_tries=grading.max_tries,
        submission_id=sub.id,
        challenge=sub.challenge_slug,
        filename=sub.filename,
        source=sub.source,
        options=options,
        split_seed=split_seed,
        started_at=now,
        options_error=options_error,
    )


def heartbeat(
    session: Session, claim: Claim, lease_seconds: float, now: datetime | None = None
) -> bool:
    """Renew the lease (rule 2); False when ``claim`` no longer holds it."""
    now = now or utcnow()
    held = _update(
        session,
        _fenced(claim),
        lease_expires_at=now + timedelta(seconds=lease_seconds),
        heartbeat_at=now,
    )
    session.commit()
    return held


def record_event(session: Session, claim: Claim, event: dict, now: datetime | None = None) -> bool:
    """Store a progress event with the next ``seq``, only while ``claim`` holds the lease."""
    holds = sa.exists().where(_fenced(claim))
    written = _append_event(session, claim.grading_id, event, now, only_if=holds)
    session.commit()
    return written


def _append_event(
    session: Session, grading_id: int, event: dict, now: datetime | None = None, only_if=None
) -> bool:
    # seq is computed in the statement itself: no two writers can pick the same one.
    seq = (
        sa.select(sa.func.coalesce(sa.func.max(ProgressEvent.seq), 0) + 1)
        .where(ProgressEvent.grading_id == grading_id)
        .scalar_subquery()
    )
    row = sa.select(
        sa.literal(grading_id),
        seq,
        sa.literal(now or utcnow(), sa.DateTime()),
        sa.literal(str(event.get("event", "unknown"))[:32]),
        sa.literal(json.dumps(event, ensure_ascii=False)),
    )
    if only_if is not None:
        row = row.where(only_if)
    # RETURNING, not rowcount: psycopg reports -1 rows for an INSERT ... SELECT.
    added = session.execute(
        sa.insert(ProgressEvent)
        .from_select(["grading_id", "seq", "at", "kind", "data_json"], row)
        .returning(ProgressEvent.id)
    ).scalar()
    return added is not None


def finish(
    session: Session, claim: Claim, report: Report, *, stopping: bool = False, now=None
) -> str:
    """Write ``report`` for ``claim``, fenced (rule 3); returns what happened.

    ``"graded"`` / ``"failed"``: stored. ``"requeued"``: a platform failure with tries left
    (rule 5), or the worker is stopping (rule 6). ``"dropped"``: the lease was lost.
    """
    now = now or utcnow()
    code = report.error.code if report.status == "failed" and report.error else None
    info = error_info(code) if code else None
    if code == "cancelled" and stopping:
        return "requeued" if release(session, claim, "the worker was stopped", now) else "dropped"
    if info is not None and info.audience == "platform":
        note = f"try {claim.tries}: {code}: {report.error.message}"
        if info.retry and claim.tries < claim.max_tries:
            return (
                "requeued"
                if _requeue(session, _fenced(claim), claim.grading_id, note, now)
                else "dropped"
            )
        if info.retry:
            note += f"; gave up after {claim.tries} tries"
            report = _gave_up(report, note)
        return _store(session, claim, report, now, counts=False, note=note)
    return _store(session, claim, report, now, counts=True)


def _store(
    session: Session, claim: Claim, report: Report, now, *, counts: bool, note: str = ""
) -> str:
    status = GRADED if report.status == "graded" else FAILED
    values = dict(
        status=status,
        report_json=report.to_json(),
        passed=report.passed,
        review_reasons=",".join(of_report(report).reasons),
        error_code=report.error.code if status == FAILED and report.error else None,
        finished_at=now,
        lease_owner=None,
        lease_expires_at=None,
    )
    if note:
        values["platform_note"] = _note_expr(note)
    if not _update(session, _fenced(claim), **values):
        session.rollback()
        log.warning("grading %s: lease lost, result of %s dropped", claim.grading_id, claim.owner)
        return "dropped"
    session.execute(
        sa.update(Submission)
        .where(Submission.id == claim.submission_id)
        .values(counts_as_attempt=counts)
        .execution_options(synchronize_session=False)
    )
    _append_event(session, claim.grading_id, {"event": "status", "status": status}, now)
    if status == GRADED and claim.started_at is not None:  # the queue's estimates
        fairqueue.record_duration(
            session,
            claim.challenge,
            fairqueue.tier_of({"tier": claim.options.tier}),
            (now - claim.started_at).total_seconds(),
            now,
        )
    touch_submission(session, claim.submission_id)  # outcome, headline, attempts
    session.commit()
    return status


def _note_expr(note: str):
    # Appended in SQL: a note written by a sweeper in between is not overwritten.
    note = note[:NOTE_LIMIT]
    return sa.case(
        (Grading.platform_note == "", sa.literal(note)),
        else_=Grading.platform_note + "\n" + note,
    )


def _requeue(session: Session, where, grading_id: int, note: str, now, undo_try=False) -> bool:
    values = dict(
        status=QUEUED,
        lease_owner=None,
        lease_expires_at=None,
        platform_note=_note_expr(note),
    )
    if undo_try:  # handed back: it keeps its lane and its place in the order
        values["tries"] = Grading.tries - 1
    else:  # a failed try: the retry lane, behind first attempts
        values.update(queued_at=now, **fairqueue.retry_values(session, grading_id))
    if not _update(session, where, **values):
        session.rollback()
        return False
    _append_event(session, grading_id, {"event": "status", "status": QUEUED, "reason": note}, now)
    enqueue_after_commit(session, grading_id)
    session.commit()
    return True


def release(session: Session, claim: Claim, reason: str, now=None) -> bool:
    """Hand a grading back to the queue without using a try (rule 6); False if not held."""
    now = now or utcnow()
    note = f"try {claim.tries}: {reason}; requeued (does not count as a try)"
    return _requeue(session, _fenced(claim), claim.grading_id, note, now, undo_try=True)


def refuse_options(session: Session, claim: Claim, now=None) -> str:
    """Fail ``claim``'s grading, whose stored options could not be read (``options_error``),
    without running it: a platform failure (no attempt used), not retried, since a retry would
    read the same row; the note says which option. Fenced like ``finish``."""
    now = now or utcnow()
    note = f"try {claim.tries}: stored grading options not valid: {claim.options_error}"
    report = _platform_report(session.get(Submission, claim.submission_id), {}, note)
    report.error.message = "The grading's stored options are not valid; staff can see why."
    return _store(session, claim, report, now, counts=False, note=note)


def _gave_up(report: Report, note: str) -> Report:
    report.status = "failed"
    report.verdict = None
    report.error = ErrorInfo(
        code="platform_error",
        message="The grading platform failed repeatedly; staff can see why and grade it again.",
        phase=report.error.phase if report.error else "",
        detail=note,
    )
    return report


def _platform_report(submission: Submission, options: dict, note: str) -> Report:
    try:
        from graders.challenges import get_challenge

        spec = get_challenge(submission.challenge_slug).spec
        title, dataset, tier = spec.title, spec.dataset.name, spec.dataset.default_tier
    except Exception:  # the report must still be written when the challenge is gone
        title, dataset, tier = submission.challenge_slug, "", ""
    report = Report(
        challenge=submission.challenge_slug,
        title=title,
        dataset=dataset,
        tier=options.get("tier") or tier,
        status="failed",
    )
    return _gave_up(report, note)
