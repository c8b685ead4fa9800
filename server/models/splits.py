"""The secret each assessment's sample-tier test split is drawn with (graders/splits.py).

A table of its own, not a column of ``assessments``: nothing that lists, exports or
serialises assessments can carry it by accident. Read only by the worker when it claims a
grading (server/leases.py); never shown on a page, in the API, a report or a webhook.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow


class SplitSecret(Base):
    __tablename__ = "split_secrets"

    assessment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("assessments.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
