"""Candidate summaries: what the candidates table sorts, filters and counts by, one row per
invitation (outcome, headline metric, attempts, minutes used, decision).

Building every candidate's row in Python before sorting took about a second at 10,000
candidates; with a summary row each, a table page is a count and one limited query. A row
is recomputed (by the same code that builds the table's rows, ``review.service.build_rows``)
whenever what it is made of changes, in the same transaction:

- through the ORM (a submission, a grading, a decision, a theory answer, an invitation
  added, changed or deleted): a session listener notes the invitation, and the rows are
  refreshed just before the commit;
- through SQL statements that bypass the ORM (a grading stored or given up on by
  ``server.grading``): the writer calls :func:`touch_submission`.

An assessment whose invitations have no summary yet (made before this table, or inserted
in bulk) gets them on its first table view (:func:`ensure`).
"""

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
    Reveal,
    Submission,
    TheoryAnswer,
)

_DIRTY = "assay.summary.invitations"
_DIRTY_SUBMISSIONS = "assay.summary.submissions"
_BATCH = 500


def refresh(session: Session, invitation_ids) -> None:
    """Recompute the summaries of ``invitation_ids`` (those still there)."""
    from server.review.service import build_rows

    ids = sorted(set(invitation_ids))
    by_assessment: dict[int, list[int]] = defaultdict(list)
    for start in range(0, len(ids), _BATCH):
        part = ids[start : start + _BATCH]
        for iid, aid in session.execute(
            sa.select(Invitation.id, Invitation.assessment_id).where(Invitation.id.in_(part))
        ):
            by_assessment[aid].append(iid)
    for assessment_id, mine in by_assessment.items():
        assessment = session.get(Assessment, assessment_id)
        for start in range(0, len(mine), _BATCH):
            part = mine[start : start + _BATCH]
            rows = build_rows(session, assessment, part, user=None)
            session.execute(
                sa.delete(CandidateSummary).where(CandidateSummary.invitation_id.in_(part))
            )
            session.execute(
                sa.insert(CandidateSummary),
                [
                    {
                        "invitation_id": r.invitation_id,
                        "assessment_id": assessment_id,
                        "outcome": r.outcome,
                        "headline": r.headline,
                        "attempts": r.attempts,
                        "minutes_used": r.minutes_used,
                        "decision": r.decision,
                    }
                    for r in rows
                ],
            )


def ensure(session: Session, assessment: Assessment) -> None:
    """Make the summaries the assessment's invitations lack (one query when none lack one)."""
    missing = list(
        session.scalars(
            sa.select(Invitation.id)
            .outerjoin(CandidateSummary, CandidateSummary.invitation_id == Invitation.id)
            .where(
                Invitation.assessment_id == assessment.id,
                CandidateSummary.invitation_id.is_(None),
            )
        )
    )
    if missing:
        refresh(session, missing)
        session.commit()


def counts(session: Session, assessment_id: int) -> dict[str, int]:
    """Candidates by outcome."""
    return dict(
        session.execute(
            sa.select(CandidateSummary.outcome, sa.func.count())
            .where(CandidateSummary.assessment_id == assessment_id)
            .group_by(CandidateSummary.outcome)
        ).all()
    )


def page_ids(
    session: Session,
    assessment_id: int,
    *,
    sort: str,
    descending: bool,
    outcome: str | None,
    blind_for: int | None,
    limit: int,
    offset: int,
) -> list[int]:
    """One page of invitation ids in the table's order (as ``review.service._sort_key``
    orders rows: ties in invitation order, a missing value last unless descending).
    ``blind_for``: the user id of a blind reviewer (unrevealed candidates sort by label)."""
    from server.review.service import OUTCOMES

    s = CandidateSummary
    query = (
        sa.select(s.invitation_id)
        .join(Invitation, Invitation.id == s.invitation_id)
        .where(s.assessment_id == assessment_id)
    )
    if outcome:
        query = query.where(s.outcome == outcome)

    def directed(*keys):
        return [k.desc() if descending else k.asc() for k in keys]

    if sort == "candidate":
        name = sa.func.lower(Invitation.candidate_name)
        if blind_for is not None:
            # "Candidate 7": the 7th invited of the assessment, numbered in one pass.
            numbered = (
                sa.select(
                    Invitation.id.label("id"),
                    sa.func.row_number().over(order_by=Invitation.id).label("number"),
                )
                .where(Invitation.assessment_id == assessment_id)
                .subquery()
            )
            query = query.join(numbered, numbered.c.id == s.invitation_id)
            revealed = sa.exists().where(
                Reveal.invitation_id == Invitation.id, Reveal.user_id == blind_for
            )
            name = sa.case(
                (revealed, name),
                else_=sa.literal("candidate ") + sa.cast(numbered.c.number, sa.String),
            )
        keys = directed(name, s.invitation_id)
    elif sort == "outcome":
        keys = directed(sa.case({o: i for i, o in enumerate(OUTCOMES)}, value=s.outcome))
    elif sort == "metric":
        keys = directed(s.headline.is_(None), s.headline)
    elif sort == "attempts":
        keys = directed(s.attempts)
    elif sort == "time":
        keys = directed(s.minutes_used.is_(None), s.minutes_used)
    elif sort == "decision":
        keys = directed(sa.func.coalesce(s.decision, "~"))
    else:
        raise ValueError(f"no summary order for {sort!r}")
    if sort != "candidate":
        keys.append(s.invitation_id.asc())  # Python's sort is stable, reversed or not
    return list(session.scalars(query.order_by(*keys).limit(limit).offset(offset)))


def touch_submission(session: Session, submission_id: int) -> None:
    """Refresh the summary of ``submission_id``'s candidate before the next commit (for
    writers that change gradings with SQL statements, which the ORM listener does not see)."""
    session.info.setdefault(_DIRTY_SUBMISSIONS, set()).add(submission_id)


_WATCHED = (Submission, Grading, Decision, TheoryAnswer, Invitation)


@event.listens_for(Session, "after_flush")
def _note(session: Session, _context) -> None:
    dirty = session.info.setdefault(_DIRTY, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Invitation):
            dirty.add(obj.id)
        elif isinstance(obj, Submission | Decision | TheoryAnswer):
            if obj.invitation_id is not None:
                dirty.add(obj.invitation_id)
        elif isinstance(obj, Grading):
            session.info.setdefault(_DIRTY_SUBMISSIONS, set()).add(obj.submission_id)


@event.listens_for(Session, "before_commit")
def _refresh_noted(session: Session) -> None:
    session.flush()
    submissions = session.info.pop(_DIRTY_SUBMISSIONS, set())
    dirty = session.info.pop(_DIRTY, set())
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


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_DIRTY, None)
    session.info.pop(_DIRTY_SUBMISSIONS, None)
