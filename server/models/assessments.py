"""Assessments: which challenges and theory questions, under which limits."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, utcnow


class Assessment(Base):
    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    #: Minutes a candidate has from first open (times their invitation's extra-time factor).
    time_limit_minutes: Mapped[int]
    #: Nothing is accepted after this moment, whatever time a candidate has left.
    deadline: Mapped[datetime | None]
    attempt_limit: Mapped[int] = mapped_column(default=3)
    dataset_tier: Mapped[str] = mapped_column(sa.String(16), default="sample")
    show_scores_to_candidate: Mapped[bool] = mapped_column(default=False)
    blind_review: Mapped[bool] = mapped_column(default=True)
    #: Candidates may read the theory explanations page once they have submitted.
    show_explanations_to_candidate: Mapped[bool] = mapped_column(
        default=False, server_default=sa.false()
    )
    #: Each theory answer is marked by two reviewers independently (``review.marking``).
    double_review: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    #: Two markings of one answer whose scores differ by more than this get a third look.
    agreement_margin: Mapped[float] = mapped_column(default=2.0, server_default="2")
    #: This assessment's weight in the grading queue's round-robin (2: twice the gradings
    #: of a 1 while both wait); ``server.fairqueue``.
    queue_share: Mapped[float] = mapped_column(sa.Double, default=1.0, server_default="1")
    #: Theory question ids from graders.theory's bank, in display order.
    theory_question_ids: Mapped[list] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    challenges: Mapped[list[AssessmentChallenge]] = relationship(
        order_by="AssessmentChallenge.position", cascade="all, delete-orphan"
    )

    @property
    def challenge_slugs(self) -> list[str]:
        return [c.challenge_slug for c in self.challenges]

    def challenge(self, slug: str) -> AssessmentChallenge | None:
        return next((c for c in self.challenges if c.challenge_slug == slug), None)


class AssessmentChallenge(Base):
    __tablename__ = "assessment_challenges"
    __table_args__ = (sa.UniqueConstraint("assessment_id", "challenge_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("assessments.id", ondelete="CASCADE"), index=True
    )
    challenge_slug: Mapped[str] = mapped_column(sa.String(64))
    position: Mapped[int] = mapped_column(default=0)
    #: A stricter or gentler bar than the challenge's, ``{metric: bar}``; None keeps its own.
    bars: Mapped[dict | None] = mapped_column(sa.JSON)
