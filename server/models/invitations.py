"""Invitations (a candidate's link), the candidate's theory answers and concept-check picks.

Only the SHA-256 of the link's token is stored; the token itself exists only in the link.
The clock starts when the candidate starts the assessment (``opened_at``), not when the
invitation is sent, and lives here on the server, so it survives a new browser.
"""

from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.assessments import Assessment
from server.models.base import Base, utcnow
from server.models.grading import Submission


class Invitation(Base):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("assessments.id", ondelete="CASCADE"), index=True
    )
    candidate_name: Mapped[str] = mapped_column(sa.String(200))
    candidate_email: Mapped[str] = mapped_column(sa.String(254))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    #: The landing page was seen (the clock has not started).
    viewed_at: Mapped[datetime | None]
    #: The clock's start: the candidate opened the assessment itself.
    opened_at: Mapped[datetime | None]
    #: Accessibility factor on the time limit (1.5 = half as much time again).
    extra_time_factor: Mapped[float] = mapped_column(default=1.0)
    #: Orders the options of the concept checks for this candidate (graders.theory.checks).
    check_seed: Mapped[int] = mapped_column(default=lambda: secrets.randbits(31))
    #: The candidate pressed "Finish": their time ended here, before the clock ran out.
    finished_at: Mapped[datetime | None]

    assessment: Mapped[Assessment] = relationship()
    submissions: Mapped[list[Submission]] = relationship(order_by="Submission.id")
    answers: Mapped[list[TheoryAnswer]] = relationship(
        order_by="TheoryAnswer.question_id", cascade="all, delete-orphan"
    )
    check_answers: Mapped[list[ConceptCheckAnswer]] = relationship(
        order_by="ConceptCheckAnswer.id", cascade="all, delete-orphan"
    )


class TheoryAnswer(Base):
    __tablename__ = "theory_answers"
    __table_args__ = (sa.UniqueConstraint("invitation_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("invitations.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[str] = mapped_column(sa.String(64))
    text: Mapped[str] = mapped_column(sa.Text, default="")
    #: None while a draft; set when the candidate submits their answers.
    submitted_at: Mapped[datetime | None]
    #: The draft was submitted by the clock (time over or "Finish"), not by the candidate.
    submitted_by_clock: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The candidate submitted this question's concept checks: their picks are final. The
    #: checks open only once the written answer is submitted (``submitted_at``).
    checks_submitted_at: Mapped[datetime | None]


class ConceptCheckAnswer(Base):
    """The option a candidate picked in one concept check.

    ``choice`` is the option's key in the bank (``correct`` or the misconception id), never
    the position on the page: the positions come from ``seed`` (the invitation's
    ``check_seed`` when the pick was made), kept here so the order the candidate saw can be
    rebuilt.
    """

    __tablename__ = "concept_check_answers"
    __table_args__ = (sa.UniqueConstraint("invitation_id", "question_id", "check_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("invitations.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[str] = mapped_column(sa.String(64))
    check_id: Mapped[str] = mapped_column(sa.String(64))
    choice: Mapped[str] = mapped_column(sa.String(64))
    seed: Mapped[int]
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
