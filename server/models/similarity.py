"""Similarity flags, computed once per submission and stored (``server.flags``).

``SimilarityCheck`` says a submission was compared with the others of its assessment;
``SimilarityPair`` holds one flagged pair, once per direction, so a report reads its own
flags with one indexed query instead of comparing with every other submission.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow


class SimilarityCheck(Base):
    """``submission_id`` was compared with every comparable submission at ``checked_at``."""

    __tablename__ = "similarity_checks"

    submission_id: Mapped[int] = mapped_column(
        sa.ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)


class SimilarityPair(Base):
    """``share_mine`` of this submission's code is found in ``other_id``'s, and so on."""

    __tablename__ = "similarity_pairs"
    __table_args__ = (
        sa.UniqueConstraint("submission_id", "other_id"),
        # A report's ten biggest flags in order, without sorting thousands of pairs (a
        # common starter file makes most submissions of a challenge alike).
        sa.Index("ix_similarity_pairs_submission_share", "submission_id", "share", "other_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        sa.ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    other_id: Mapped[int] = mapped_column(
        sa.ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    share_mine: Mapped[float]
    share_theirs: Mapped[float]
    share: Mapped[float]
