"""Dry runs: an upload's contract checked in a sandbox before it is queued for grading.

A ``DryRun`` row is made for every upload (``server/dryruns.py``). Its worker lane claims it
under a lease, as a grading is claimed; ``steps_json`` fills step by step while it runs (the
candidate's page shows them turning green), and ``result_json`` holds the final
``graders.dryrun.DryRun``. A dry run that passes queues the grading; one that fails on the
candidate's code clears the submission's ``counts_as_attempt`` and queues nothing.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, utcnow
from server.models.grading import Submission

#: DryRun.status values.
DRY_QUEUED, DRY_RUNNING, DRY_PASSED, DRY_FAILED = "queued", "running", "passed", "failed"


class DryRun(Base):
    __tablename__ = "dry_runs"
    __table_args__ = (sa.Index("ix_dry_runs_status_lease", "status", "lease_expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        sa.ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(16), default=DRY_QUEUED)
    tries: Mapped[int] = mapped_column(default=0)
    max_tries: Mapped[int] = mapped_column(default=2)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(128))
    lease_expires_at: Mapped[datetime | None]
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: The grading's options (``GradeOptions`` fields), used when the dry run queues it.
    options_json: Mapped[str] = mapped_column(sa.Text, default="{}")
    #: The sandbox steps passed so far, as a JSON list (display only).
    steps_json: Mapped[str] = mapped_column(sa.Text, default="[]")
    #: ``graders.dryrun.DryRun.to_dict()`` as JSON, once finished.
    result_json: Mapped[str | None] = mapped_column(sa.Text)
    error_code: Mapped[str | None] = mapped_column(sa.String(64))

    submission: Mapped[Submission] = relationship(back_populates="dry_runs")
