"""The expensive, immutable parts of a report page, rendered once and stored.

A submission's source never changes, nor does a grading's report (a re-grade is a new
grading), so what the report page draws from them is rendered once, by the worker after the
grading or on the first view, and kept here: the highlighted code (Pygments) of a
submission, the plots (matplotlib SVGs) and the metrics explanation of a grading. Each row
records the ``version`` of the rendering that made it (``server.reviewing.stored``); a row of
another version is rendered again when next read.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow


class SubmissionRender(Base):
    """A submission's code as the report shows it: highlighted HTML, or a notebook's cells."""

    __tablename__ = "submission_renders"

    submission_id: Mapped[int] = mapped_column(
        sa.ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[str] = mapped_column(sa.String(64))
    #: "code" (``body`` is highlighted HTML), "cells" (a JSON list of cells) or "text"
    #: (a notebook that does not parse: ``body`` is empty and the page shows the source).
    kind: Mapped[str] = mapped_column(sa.String(16))
    body: Mapped[str] = mapped_column(sa.Text)
    rendered_at: Mapped[datetime] = mapped_column(default=utcnow)


class GradingRender(Base):
    """A finished grading's plots (SVG data URIs by name) and metrics explanation (JSON)."""

    __tablename__ = "grading_renders"

    grading_id: Mapped[int] = mapped_column(
        sa.ForeignKey("gradings.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[str] = mapped_column(sa.String(64))
    plots_json: Mapped[str] = mapped_column(sa.Text)
    #: ``graders.metric_explanation.Explanation.to_dict()``, or null when the report was not scored.
    explanation_json: Mapped[str] = mapped_column(sa.Text)
    rendered_at: Mapped[datetime] = mapped_column(default=utcnow)
