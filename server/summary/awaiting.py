"""What awaits a reviewer, for their home page: per assessment they review, how many
candidates have handed work in and how many of those await a decision or a theory score."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.models import Assessment, CandidateSummary, User
from server.reviewing.access import reviewable
from server.summary import store


@dataclass
class AwaitingReview:
    """One assessment on a reviewer's home page: how many candidates have handed work in
    (graded, failed or submitted) and how many of those have no decision yet."""

    assessment: Assessment
    handed_in: int
    awaiting: int
    theory_unconfirmed: int


def awaiting_review(session: Session, user: User) -> list[AwaitingReview]:
    """The user's reviewable assessments with what awaits their review: one grouped query
    over the candidate summaries (made first where an assessment lacks them)."""
    found = reviewable(session, user)
    if not found:
        return []
    for assessment in found:
        store.ensure(session, assessment)
    handed = CandidateSummary.stage.in_(("graded", "failed", "submitted"))
    counts = {
        r.assessment_id: r
        for r in session.execute(
            sa.select(
                CandidateSummary.assessment_id,
                sa.func.count().filter(handed).label("handed_in"),
                sa.func.count()
                .filter(handed, CandidateSummary.decision.is_(None))
                .label("awaiting"),
                # "theory to review" as the table's filter reads it (summary.py).
                sa.func.count()
                .filter(
                    CandidateSummary.theory_max.is_not(None),
                    CandidateSummary.theory_confirmed.is_(False),
                )
                .label("theory_unconfirmed"),
            )
            .where(CandidateSummary.assessment_id.in_([a.id for a in found]))
            .group_by(CandidateSummary.assessment_id)
        )
    }
    rows = []
    for assessment in found:
        r = counts.get(assessment.id)
        rows.append(
            AwaitingReview(
                assessment,
                r.handed_in if r else 0,
                r.awaiting if r else 0,
                r.theory_unconfirmed if r else 0,
            )
        )
    rows.sort(key=lambda row: -row.awaiting)
    return rows
