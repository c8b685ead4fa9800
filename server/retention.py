"""Deleting a candidate's data, on request or when the assessment's retention period ends.

What goes: the invitation (name, email, link), every submission (source) with its gradings
(reports, logs) and progress events, the theory answers and concept-check picks, theory
reviews, decisions and reveals. What stays: the audit log, which never held the name or email, gains a
"deletion" event naming only ids and counts, so "someone's data was deleted, by whom and
when" survives the data itself.

The periodic part (``purge_expired``) runs in each worker (``start_thread``); deleting
twice is harmless, so several workers may run it.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server import audit
from server.models import (
    ConceptCheckAnswer,
    Decision,
    Invitation,
    RetentionPolicy,
    Reveal,
    Submission,
    TheoryAnswer,
    TheoryMark,
    TheoryReview,
    utcnow,
)

log = logging.getLogger(__name__)

MAX_DAYS = 3650
PURGE_EVERY_SECONDS = 3600.0


def delete_candidate(
    session: Session, invitation: Invitation, *, actor_id: int | None, reason: str
) -> dict[str, int]:
    """Delete everything of one candidate (see the module); the counts of what went."""
    counts = {}
    for model, column in (
        (Submission, Submission.invitation_id),
        (TheoryAnswer, TheoryAnswer.invitation_id),
        (ConceptCheckAnswer, ConceptCheckAnswer.invitation_id),
        (TheoryReview, TheoryReview.invitation_id),
        (TheoryMark, TheoryMark.invitation_id),
        (Decision, Decision.invitation_id),
        (Reveal, Reveal.invitation_id),
    ):
        rows = list(session.scalars(sa.select(model).where(column == invitation.id)))
        counts[model.__tablename__] = len(rows)
        for row in rows:
            session.delete(row)  # the ORM cascades gradings and progress events
    audit.record(
        session,
        "deletion",
        actor_id=actor_id,
        assessment_id=invitation.assessment_id,
        invitation_id=invitation.id,
        reason=reason,
        **counts,
    )
    session.delete(invitation)
    session.flush()
    return counts


def set_policy(session: Session, assessment_id: int, days: int | None) -> None:
    """Keep candidates' data ``days`` days after the invitation; None keeps it until deleted."""
    policy = session.get(RetentionPolicy, assessment_id)
    if days is None:
        if policy is not None:
            session.delete(policy)
        return
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"a retention period lies between 1 and {MAX_DAYS} days")
    if policy is None:
        session.add(RetentionPolicy(assessment_id=assessment_id, days=days))
    else:
        policy.days, policy.updated_at = days, utcnow()


def policy_days(session: Session, assessment_id: int) -> int | None:
    policy = session.get(RetentionPolicy, assessment_id)
    return policy.days if policy else None


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Delete every candidate whose assessment's retention period has passed; commits."""
    now = now or utcnow()
    expired: list[Invitation] = []
    for policy in session.scalars(sa.select(RetentionPolicy)):
        expired += session.scalars(
            sa.select(Invitation).where(
                Invitation.assessment_id == policy.assessment_id,
                Invitation.created_at < now - timedelta(days=policy.days),
            )
        )
    for invitation in expired:
        delete_candidate(session, invitation, actor_id=None, reason="retention period")
    session.commit()
    return len(expired)


def start_thread(factory, every: float = PURGE_EVERY_SECONDS, stop: threading.Event | None = None):
    """Run ``purge_expired`` every ``every`` seconds on a daemon thread (a worker's)."""
    from server import periodic

    def purge() -> None:
        with factory() as session:
            deleted = purge_expired(session)
        if deleted:
            log.info("retention: deleted the data of %d candidate(s)", deleted)

    return periodic.every(every, "retention purge", purge, stop)
