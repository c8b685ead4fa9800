"""What any worker's sweeper finds (``server.leases``, rules 4 and 7): gradings whose lease
expired, put back in the queue or given up after their last try, and queued gradings left
without a queue message; and the candidate's next grading, woken when one ends.

Safe to run in every worker at once: each change is conditional on the row just seen.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server import fairqueue
from server.leases import _append_event, _note_expr, _platform_report, _requeue, _update
from server.models.base import utcnow
from server.models.grading import FAILED, QUEUED, RUNNING, Grading, Submission
from server.summary.changes import touch_submission


def requeue_expired(session: Session, now: datetime | None = None) -> dict[str, list[int]]:
    """Put back gradings whose lease expired (rule 4); give up on those out of tries.

    Safe to run in every worker at once: each change is conditional on the lease just seen.
    """
    now = now or utcnow()
    done: dict[str, list[int]] = {"requeued": [], "failed": []}
    expired = session.execute(
        sa.select(Grading.id, Grading.lease_owner, Grading.tries, Grading.max_tries).where(
            Grading.status == RUNNING, Grading.lease_expires_at < now
        )
    ).all()
    session.rollback()
    for grading_id, owner, tries, max_tries in expired:
        still = sa.and_(
            Grading.id == grading_id,
            Grading.status == RUNNING,
            Grading.lease_owner == owner,
            Grading.lease_expires_at < now,
        )
        note = f"try {tries}: worker {_worker_of(owner)} stopped renewing its lease"
        if tries < max_tries:
            if _requeue(session, still, grading_id, note, now):
                done["requeued"].append(grading_id)
            continue
        if _give_up_expired(
            session, still, grading_id, f"{note}; gave up after {tries} tries", now
        ):
            done["failed"].append(grading_id)
    return done


def _give_up_expired(session: Session, where, grading_id: int, note: str, now) -> bool:
    grading = session.get(Grading, grading_id)
    report = _platform_report(grading.submission, json.loads(grading.options_json or "{}"), note)
    won = _update(
        session,
        where,
        status=FAILED,
        error_code="platform_error",
        report_json=report.to_json(),
        passed=False,
        finished_at=now,
        lease_owner=None,
        lease_expires_at=None,
        platform_note=_note_expr(note),
    )
    if not won:
        session.rollback()
        return False
    session.execute(
        sa.update(Submission)
        .where(Submission.id == grading.submission_id)
        .values(counts_as_attempt=False)
        .execution_options(synchronize_session=False)
    )
    _append_event(session, grading_id, {"event": "status", "status": FAILED}, now)
    touch_submission(session, grading.submission_id)
    session.commit()
    return True


def _worker_of(owner: str | None) -> str:
    # The owner token is host/pid/random; staff want to know the host and pid.
    return (owner or "?").rsplit("/", 1)[0]


def lost_messages(
    session: Session,
    pending: set[int],
    older_than: float,
    now: datetime | None = None,
    waiting: int | None = None,
) -> list[int]:
    """Queued gradings to send a message for (rule 7): those queued over ``older_than`` s
    ago with no message of their own, as many as the claimable gradings outnumber the
    messages waiting (``waiting``, default ``len(pending)``; any message wakes a worker that
    claims in the fair order). A grading held back by its busy candidate is not counted: the
    end of the candidate's running grading wakes it."""
    now = now or utcnow()
    rows = session.execute(
        sa.select(Grading.id, Grading.invitation_id)
        .where(
            Grading.status == QUEUED,
            Grading.tries < Grading.max_tries,
            fairqueue.candidate_free(),
        )
        .order_by(Grading.id)
    ).all()
    claimable, candidates = [], set()
    for grading_id, invitation_id in rows:  # one each: a candidate runs one at a time
        if invitation_id is None or invitation_id not in candidates:
            claimable.append(grading_id)
            candidates.add(invitation_id)
    old = set(
        session.scalars(
            sa.select(Grading.id).where(
                Grading.status == QUEUED, Grading.queued_at < now - timedelta(seconds=older_than)
            )
        ).all()
    )
    session.rollback()
    missing = len(claimable) - (len(pending) if waiting is None else waiting)
    if missing <= 0:
        return []
    lost = [gid for gid in claimable if gid in old and gid not in pending]
    return lost[:missing]


def next_of_candidate(session: Session, grading_id: int) -> int | None:
    """A queued grading of the same candidate as ``grading_id`` (held back by rule 1), if any."""
    invitation_id = session.scalar(sa.select(Grading.invitation_id).where(Grading.id == grading_id))
    if invitation_id is None:
        return None
    found = session.scalar(
        sa.select(Grading.id)
        .where(Grading.invitation_id == invitation_id, Grading.status == QUEUED)
        .order_by(Grading.id)
        .limit(1)
    )
    session.rollback()
    return found
