"""Keeping the summaries up to date: session listeners note what changed (a submission, a
grading, a decision, a theory answer or review, an invitation, an assessment's clock) and
refresh those candidates' rows just before the commit, in the same transaction.

Installed by whoever writes through sessions (``create_app``, the worker's and the CLI's
start, tests that make sessions without an app): :func:`install`, idempotent. Writers that
change gradings with SQL statements, which the listeners do not see, note them
(``changes.touch_submission``)."""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from server.models import (
    Assessment,
    CandidateSummary,
    Decision,
    Grading,
    Invitation,
    Submission,
    TheoryAnswer,
    TheoryMark,
    TheoryReview,
)
from server.reviewing.numbers import label_key, window_numbers
from server.summary.changes import DIRTY_SUBMISSIONS
from server.summary.store import refresh

_DIRTY = "assay.summary.invitations"


_GONE = "assay.summary.gone"
_ASSESSMENTS = "assay.summary.assessments"
#: Assessment columns a candidate's state depends on (when their time ends).
#: (And how its theory answers are scored: one marking or two, the margin.)
_CLOCK = (
    "deadline",
    "time_limit_minutes",
    "theory_question_ids",
    "challenges",
    "double_review",
    "agreement_margin",
)


def _note(session: Session, _context) -> None:
    dirty = session.info.setdefault(_DIRTY, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Invitation):
            dirty.add(obj.id)
        elif isinstance(obj, Submission | Decision | TheoryAnswer | TheoryReview | TheoryMark):
            if obj.invitation_id is not None:
                dirty.add(obj.invitation_id)
        elif isinstance(obj, Grading):
            session.info.setdefault(DIRTY_SUBMISSIONS, set()).add(obj.submission_id)
        elif isinstance(obj, Assessment) and obj in session.dirty:
            state = sa.inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in _CLOCK):
                session.info.setdefault(_ASSESSMENTS, set()).add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, Invitation):
            session.info.setdefault(_GONE, []).append((obj.assessment_id, obj.id))


def _refresh_noted(session: Session) -> None:
    session.flush()
    submissions = session.info.pop(DIRTY_SUBMISSIONS, set())
    dirty = session.info.pop(_DIRTY, set())
    gone: dict[int, list[int]] = defaultdict(list)
    for assessment_id, invitation_id in session.info.pop(_GONE, []):
        gone[assessment_id].append(invitation_id)
    for assessment_id, invitation_ids in gone.items():
        _renumber(session, assessment_id, invitation_ids)
    for assessment_id in session.info.pop(_ASSESSMENTS, set()):
        dirty |= set(
            session.scalars(
                sa.select(Invitation.id).where(Invitation.assessment_id == assessment_id)
            )
        )
    if submissions:
        dirty |= set(
            session.scalars(
                sa.select(Submission.invitation_id).where(Submission.id.in_(list(submissions)))
            )
        )
    dirty.discard(None)
    if dirty:
        refresh(session, dirty)
        session.info.pop(_DIRTY, None)  # the refresh's own flushes noted nothing new


def _renumber(session: Session, assessment_id: int, gone: list[int]) -> None:
    """Number the summaries after ``gone`` invitations were deleted: "Candidate 7" is the 7th
    of the invitations still there, as the window numbers them (``candidate_numbers``)."""
    s = CandidateSummary
    if len(gone) <= 3:  # a candidate deleted on request: shift the later ones down by one
        for invitation_id in gone:
            session.execute(
                sa.update(s)
                .where(s.assessment_id == assessment_id, s.invitation_id > invitation_id)
                .values(
                    number=s.number - 1,
                    label_key=sa.literal(label_key("")) + sa.cast(s.number - 1, sa.String),
                )
            )
        return
    # A retention purge: count once, write the rows whose number changed.
    counted = window_numbers(session, assessment_id, None)
    stale = [
        {
            "key": invitation_id,
            "number": counted[invitation_id],
            "label": label_key(counted[invitation_id]),
        }
        for invitation_id, number in session.execute(
            sa.select(s.invitation_id, s.number).where(
                s.assessment_id == assessment_id, s.invitation_id > min(gone)
            )
        )
        if invitation_id in counted and counted[invitation_id] != number
    ]
    if stale:
        table = s.__table__
        session.execute(
            table.update()
            .where(table.c.invitation_id == sa.bindparam("key"))
            .values(number=sa.bindparam("number"), label_key=sa.bindparam("label")),
            stale,
        )


def _forget(session: Session) -> None:
    session.info.pop(_DIRTY, None)
    session.info.pop(DIRTY_SUBMISSIONS, None)
    session.info.pop(_GONE, None)
    session.info.pop(_ASSESSMENTS, None)


#: Every session's events the summaries follow, and their listeners.
LISTENERS = (
    ("after_flush", _note),
    ("before_commit", _refresh_noted),
    ("after_rollback", _forget),
)


def install() -> None:
    """Listen to every session's flushes, commits and rollbacks (once: a second call does
    nothing)."""
    for name, listener in LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
