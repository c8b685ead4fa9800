"""Submissions and their gradings.

A ``Submission`` is one uploaded file (the source itself is stored: it is small, and
workers on other machines read it from here). Each time it is graded, a ``Grading`` row
records that run: queue state, the worker's lease, the report. Re-grading adds a row and
keeps the history; a submission shows its latest grading. ``ProgressEvent`` rows are what
the candidate's status page polls (train epoch x of y, predict, scored).

Attempts: a submission counts against the candidate's attempt limit unless its grading
ended with a platform failure (``counts_as_attempt`` is cleared then), so an engine outage
or a killed worker never costs a candidate an attempt.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from graders.report import Report
from graders.verdicts import Outcome, outcome
from server.models.base import Base, utcnow

#: Grading.status values.
QUEUED, RUNNING, GRADED, FAILED = "queued", "running", "graded", "failed"
GRADING_STATES = (QUEUED, RUNNING, GRADED, FAILED)
#: Grading.lane values, in the order the worker serves them (``server.fairqueue``): a
#: submission's first grading, then retries (a platform failure, an expired lease) and
#: re-grades. Other lanes (a dry run) are not served by the fair order.
FIRST, RETRY = "first", "retry"
LANES = (FIRST, RETRY)


class Submission(Base):
    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("invitations.id", ondelete="CASCADE"), index=True
    )
    challenge_slug: Mapped[str] = mapped_column(sa.String(64))
    #: As uploaded, for display only: never used as a path.
    filename: Mapped[str] = mapped_column(sa.String(255))
    source: Mapped[bytes] = mapped_column(sa.LargeBinary)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    counts_as_attempt: Mapped[bool] = mapped_column(default=True)

    gradings: Mapped[list[Grading]] = relationship(
        back_populates="submission", order_by="Grading.id", cascade="all, delete-orphan"
    )

    dry_runs: Mapped[list[DryRun]] = relationship(  # noqa: F821 (server.models.dryruns)
        back_populates="submission", order_by="DryRun.id", cascade="all, delete-orphan"
    )

    @property
    def latest(self) -> Grading | None:
        return self.gradings[-1] if self.gradings else None


class Grading(Base):
    __tablename__ = "gradings"
    __table_args__ = (
        sa.Index("ix_gradings_status_lease", "status", "lease_expires_at"),
        sa.Index("ix_gradings_fair_order", "status", "lane", "fair_tag", "id"),
        # One grading in flight per candidate, enforced by the database itself: two workers
        # that claim two uploads of one candidate at once cannot both win (server.fairqueue).
        sa.Index(
            "uq_gradings_one_running_per_candidate",
            "invitation_id",
            unique=True,
            sqlite_where=sa.text("status = 'running' AND lane IN ('first', 'retry')"),
            postgresql_where=sa.text("status = 'running' AND lane IN ('first', 'retry')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        sa.ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(16), default=QUEUED)
    #: Platform tries so far (a worker took it); bounded by ``max_tries``.
    tries: Mapped[int] = mapped_column(default=0)
    max_tries: Mapped[int] = mapped_column(default=3)
    #: Which worker holds it, until when; renewed by the grading's heartbeat.
    lease_owner: Mapped[str | None] = mapped_column(sa.String(128))
    lease_expires_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: GradeOptions as JSON (tier, slices, bars recorded for the assessment).
    options_json: Mapped[str] = mapped_column(sa.Text, default="{}")
    #: graders.report.Report.to_json(), once graded or failed.
    report_json: Mapped[str | None] = mapped_column(sa.Text)
    passed: Mapped[bool | None]
    #: Why a pass is flagged for review: reason codes of graders.verdicts, comma-separated
    #: ("replay,embedded_data"); empty for a clean pass or no pass.
    review_reasons: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    error_code: Mapped[str | None] = mapped_column(sa.String(64))
    #: Why the platform gave up or retried (lease expiries, engine errors), for staff.
    platform_note: Mapped[str] = mapped_column(sa.Text, default="")
    #: The fair order (``server.fairqueue``): which lane, and the virtual start tag inside
    #: it (round-robin across assessments, weighted by their share; oldest first inside one).
    lane: Mapped[str] = mapped_column(sa.String(16), default=FIRST, server_default=FIRST)
    fair_tag: Mapped[float] = mapped_column(sa.Double, default=0.0, server_default="0")
    #: The submission's candidate and assessment, copied here so that the claim's one
    #: conditional update and the unique index above can see them (None: a staff upload).
    invitation_id: Mapped[int | None] = mapped_column(sa.Integer)
    assessment_id: Mapped[int | None] = mapped_column(sa.Integer)

    submission: Mapped[Submission] = relationship(back_populates="gradings")

    @property
    def outcome(self) -> Outcome:
        """The verdict as worded everywhere (graders.verdicts): a flagged pass is not clean."""
        return outcome(self.status, self.passed, (self.review_reasons or "").split(","))

    @property
    def report(self) -> Report | None:
        """The stored report read back, the one way (``Report.from_json``: typed, an
        ``UnreadableReport`` when the text is corrupt); None before the
        grading ends. Parsed once per row and text: pages ask for it several times."""
        if not self.report_json:
            return None
        cached = self.__dict__.get("_report")
        if cached is None or cached[0] is not self.report_json:
            cached = (self.report_json, Report.from_json(self.report_json))
            self.__dict__["_report"] = cached
        return cached[1]

    events: Mapped[list[ProgressEvent]] = relationship(
        back_populates="grading", order_by="ProgressEvent.seq", cascade="all, delete-orphan"
    )


class ProgressEvent(Base):
    __tablename__ = "progress_events"
    __table_args__ = (sa.UniqueConstraint("grading_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grading_id: Mapped[int] = mapped_column(
        sa.ForeignKey("gradings.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int]
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(sa.String(32))
    #: The event as JSON, already validated and escaped by graders.service.
    data_json: Mapped[str] = mapped_column(sa.Text, default="{}")

    grading: Mapped[Grading] = relationship(back_populates="events")


class GradingDuration(Base):
    """One measured grading run (claim to a graded report), for the queue's estimates.

    The last ``server.fairqueue.DURATION_WINDOW`` rows of a challenge and tier are kept;
    their median is the expected length of the next grading of that challenge and tier.
    """

    __tablename__ = "grading_durations"
    __table_args__ = (sa.Index("ix_grading_durations_key", "challenge_slug", "tier", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_slug: Mapped[str] = mapped_column(sa.String(64))
    tier: Mapped[str] = mapped_column(sa.String(16))
    seconds: Mapped[float] = mapped_column(sa.Double)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
