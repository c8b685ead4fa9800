"""The hiring team's records: who reviews what, decisions, theory reviews, reveals, audit.

Decisions and theory reviews are appended, never updated: the newest row is the current one
and the older ones are the history (a rubric suggestion confirmed, then overridden, keeps
both). Audit events are append-only, enforced here (an update or delete raises), and carry
no personal data: they name users and invitations by id, so deleting a candidate's data
leaves the record that it happened.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.accounts import User
from server.models.base import Base, utcnow

ADVANCE, HOLD, REJECT = "advance", "hold", "reject"
DECISIONS = (ADVANCE, HOLD, REJECT)
CONFIRM, OVERRIDE = "confirm", "override"
#: A reviewer's mark on one key point of an answer, and on one possible misconception.
CORRECT, PARTLY, WRONG = "correct", "partly", "wrong"
POINT_MARKS = (CORRECT, PARTLY, WRONG)
PRESENT, ABSENT = "present", "absent"
MISCONCEPTION_MARKS = (PRESENT, ABSENT)
POINT, MISCONCEPTION = "point", "misconception"


class ReviewAssignment(Base):
    """A reviewer may review an assessment (its owner and admins always may)."""

    __tablename__ = "review_assignments"
    __table_args__ = (sa.UniqueConstraint("assessment_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("assessments.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class Decision(Base):
    """Advance, hold or reject one candidate, with a note; the newest row is the decision."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("invitations.id", ondelete="CASCADE"), index=True
    )
    decision: Mapped[str] = mapped_column(sa.String(16))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    decided_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)

    by: Mapped[User | None] = relationship()


class TheoryReview(Base):
    """A whole-answer score from before per-point marking (issue 18): kept as history only.

    A reviewer confirmed the rubric's number or overrode it; the rubric's number is no longer
    shown as a grade, so these rows no longer make an answer's score (``TheoryMark`` does).
    """

    __tablename__ = "theory_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("invitations.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(16))
    #: The rubric's suggestion when the reviewer acted, kept beside the reviewer's score.
    suggested: Mapped[float]
    score: Mapped[float]
    max_score: Mapped[float]
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    reviewer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    reviewer: Mapped[User | None] = relationship()


class TheoryMark(Base):
    """One reviewer's mark on one key point (correct / partly / wrong or missing) or one
    misconception (present / absent) of one answer. Appended, never updated: the newest row
    per (answer, reviewer, item) is the mark, the older ones its history
    (``server.reviewing.marking`` computes the question's score from the marks)."""

    __tablename__ = "theory_marks"
    __table_args__ = (
        sa.Index("ix_theory_marks_answer", "invitation_id", "question_id", "reviewer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(sa.ForeignKey("invitations.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(sa.String(64))
    #: Null once the reviewer's account is deleted (the mark stays, by "a deleted account").
    reviewer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(sa.String(16))  # POINT or MISCONCEPTION
    item_id: Mapped[str] = mapped_column(sa.String(64))
    mark: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    reviewer: Mapped[User | None] = relationship()


class Reveal(Base):
    """A blind reviewer chose to see a candidate's name and email."""

    __tablename__ = "reveals"
    __table_args__ = (sa.UniqueConstraint("invitation_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("invitations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Who did what, when; append-only, and never a name or an email (see the module)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: No foreign key: the record outlives a deleted account.
    actor_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(sa.String(32), index=True)
    assessment_id: Mapped[int | None] = mapped_column(index=True)
    invitation_id: Mapped[int | None]
    detail: Mapped[dict] = mapped_column(sa.JSON, default=dict)


@sa.event.listens_for(AuditEvent, "before_update")
@sa.event.listens_for(AuditEvent, "before_delete")
def _append_only(_mapper, _connection, target: AuditEvent) -> None:
    raise PermissionError(f"audit event {target.id} is append-only")


class RetentionPolicy(Base):
    """Delete a candidate's data this many days after their invitation was created."""

    __tablename__ = "retention_policies"

    assessment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("assessments.id", ondelete="CASCADE"), primary_key=True
    )
    days: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CandidateSummary(Base):
    """Everything the candidates table shows, sorts and filters by, one row per invitation,
    kept up to date by ``server.summary`` whenever a submission, grading, decision, answer,
    theory review or invitation changes."""

    __tablename__ = "candidate_summaries"
    # One index per sort key: a page's order is read from a narrow index, never by sorting
    # whole rows (10,000 candidates at 10,000 requests a day).
    __table_args__ = (
        sa.Index("ix_candidate_summaries_assessment_outcome", "assessment_id", "outcome"),
        sa.Index("ix_candidate_summaries_assessment_name", "assessment_id", "name_key"),
        sa.Index(
            "ix_candidate_summaries_assessment_label", "assessment_id", "label_key", "name_key"
        ),
        sa.Index("ix_candidate_summaries_assessment_stage", "assessment_id", "stage", "ends_at"),
        sa.Index("ix_candidate_summaries_assessment_headline", "assessment_id", "headline"),
        sa.Index("ix_candidate_summaries_assessment_attempts", "assessment_id", "attempts"),
        sa.Index("ix_candidate_summaries_assessment_minutes", "assessment_id", "minutes_used"),
        sa.Index("ix_candidate_summaries_assessment_decision", "assessment_id", "decision"),
        sa.Index("ix_candidate_summaries_assessment_theory", "assessment_id", "theory_total"),
    )

    invitation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("invitations.id", ondelete="CASCADE"), primary_key=True
    )
    assessment_id: Mapped[int] = mapped_column(sa.ForeignKey("assessments.id", ondelete="CASCADE"))
    #: "Candidate 7": the 7th of the assessment's invitations (renumbered when one goes).
    number: Mapped[int] = mapped_column(default=0)
    #: The candidate's name in lower case, and "candidate 7": the candidate column's sort
    #: keys (a blind reviewer's is the label).
    name_key: Mapped[str] = mapped_column(sa.String(200), default="")
    label_key: Mapped[str] = mapped_column(sa.String(32), default="")
    outcome: Mapped[str] = mapped_column(sa.String(16))
    headline: Mapped[float | None]
    attempts: Mapped[int] = mapped_column(default=0)
    minutes_used: Mapped[float | None]
    decision: Mapped[str | None] = mapped_column(sa.String(16))
    #: Reviewers' theory score over the answers they have scored (None: none scored yet);
    #: never the rubric's reading. ``theory_confirmed``: every submitted answer is scored.
    theory_total: Mapped[float | None]
    theory_max: Mapped[float | None]
    theory_confirmed: Mapped[bool] = mapped_column(default=False)
    #: The state before the clock is read, and when it turns "expired" (server.stages).
    stage: Mapped[str] = mapped_column(sa.String(16), default="sent")
    ends_at: Mapped[datetime | None]
    #: Each challenge's cell (summary.rows.ChallengeCell) as a JSON list.
    cells_json: Mapped[str] = mapped_column(sa.Text, default="[]")
