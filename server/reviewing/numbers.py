"""Candidate numbers: "Candidate 7" is the 7th invitation of its assessment still there (the
label a blind reviewer sees), kept in the summaries as invitations come and go."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.models import CandidateSummary, Invitation


def label_key(number) -> str:
    """A blind reviewer's sort key: the label "Candidate 7" in lower case, as the rows built
    in Python sort it (so "candidate 10" comes before "candidate 2")."""
    return f"candidate {number}"


def candidate_numbers(session: Session, assessment_id: int, only=None) -> dict[int, int]:
    """Invitation id -> its stable number in the assessment (1 for the first invited), of
    every invitation or of those in ``only``: read from their summaries (``server.summary``
    keeps the numbers as invitations come and go), numbered by the database in one pass for
    those without one."""
    if only is None:
        return window_numbers(session, assessment_id, None)
    only = list(only)
    if not only:
        return {}
    found = dict(
        session.execute(
            sa.select(CandidateSummary.invitation_id, CandidateSummary.number).where(
                CandidateSummary.invitation_id.in_(only), CandidateSummary.number.is_not(None)
            )
        ).all()
    )
    missing = [i for i in only if i not in found]
    if missing:
        found.update(window_numbers(session, assessment_id, missing))
    return found


def window_numbers(session: Session, assessment_id: int, only) -> dict[int, int]:
    """``candidate_numbers`` counted from the invitations themselves."""
    if only is None:
        ids = session.scalars(
            sa.select(Invitation.id)
            .where(Invitation.assessment_id == assessment_id)
            .order_by(Invitation.id)
        )
        return {invitation_id: n for n, invitation_id in enumerate(ids, start=1)}
    only = list(only)
    if not only:
        return {}
    numbered = (
        sa.select(
            Invitation.id.label("id"),
            sa.func.row_number().over(order_by=Invitation.id).label("number"),
        )
        .where(Invitation.assessment_id == assessment_id)
        .subquery()
    )
    return dict(
        session.execute(
            sa.select(numbered.c.id, numbered.c.number).where(numbered.c.id.in_(only))
        ).all()
    )
