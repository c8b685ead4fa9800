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
    """A reviewer confirmed the rubric's suggested score of one answer, or overrode it."""

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
    """What the candidates table sorts and filters by, one row per invitation, kept up to
    date by ``server.summary`` whenever a submission, grading, decision or answer changes."""

    __tablename__ = "candidate_summaries"
    __table_args__ = (
        sa.Index("ix_candidate_summaries_assessment_outcome", "assessment_id", "outcome"),
    )

    invitation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("invitations.id", ondelete="CASCADE"), primary_key=True
    )
    assessment_id: Mapped[int] = mapped_column(sa.ForeignKey("assessments.id", ondelete="CASCADE"))
    outcome: Mapped[str] = mapped_column(sa.String(16))
    headline: Mapped[float | None]
    attempts: Mapped[int] = mapped_column(default=0)
    minutes_used: Mapped[float | None]
    decision: Mapped[str | None] = mapped_column(sa.String(16))
