"""the fair grading queue: lanes, fair tags, one grading in flight per candidate, durations

Revision ID: 0016_fair_queue
Revises: 0015_dry_runs
Create Date: 2026-12-05 18:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_fair_queue"
down_revision: str | Sequence[str] | None = "0015_dry_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONE_RUNNING = "status = 'running' AND lane IN ('first', 'retry')"


def upgrade() -> None:
    with op.batch_alter_table("gradings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lane", sa.String(length=16), server_default="first", nullable=False)
        )
        batch_op.add_column(sa.Column("fair_tag", sa.Double(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("invitation_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("assessment_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("queue_share", sa.Double(), server_default="1", nullable=False)
        )
    _backfill()
    with op.batch_alter_table("gradings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_gradings_fair_order", ["status", "lane", "fair_tag", "id"], unique=False
        )
        batch_op.create_index(
            "uq_gradings_one_running_per_candidate",
            ["invitation_id"],
            unique=True,
            sqlite_where=sa.text(ONE_RUNNING),
            postgresql_where=sa.text(ONE_RUNNING),
        )
    op.create_table(
        "grading_durations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge_slug", sa.String(length=64), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grading_durations")),
    )
    with op.batch_alter_table("grading_durations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_grading_durations_key", ["challenge_slug", "tier", "id"], unique=False
        )


def _backfill() -> None:
    """Copy each grading's candidate and assessment; later gradings of a submission are
    re-grades. A candidate with two gradings running now (before this limit existed) keeps
    the newer one out of the one-in-flight index until it ends."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT g.id, g.submission_id, g.status, s.invitation_id, i.assessment_id"
            " FROM gradings g JOIN submissions s ON s.id = g.submission_id"
            " LEFT JOIN invitations i ON i.id = s.invitation_id ORDER BY g.id"
        )
    ).all()
    seen_submissions: set[int] = set()
    running: set[int] = set()
    for grading_id, submission_id, status, invitation_id, assessment_id in rows:
        lane = "retry" if submission_id in seen_submissions else "first"
        seen_submissions.add(submission_id)
        if status == "running" and invitation_id is not None:
            if invitation_id in running:
                invitation_id = None
            running.add(invitation_id)
        bind.execute(
            sa.text(
                "UPDATE gradings SET lane = :lane, invitation_id = :inv, assessment_id = :asm"
                " WHERE id = :id"
            ),
            {"lane": lane, "inv": invitation_id, "asm": assessment_id, "id": grading_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("grading_durations", schema=None) as batch_op:
        batch_op.drop_index("ix_grading_durations_key")
    op.drop_table("grading_durations")
    with op.batch_alter_table("gradings", schema=None) as batch_op:
        batch_op.drop_index("uq_gradings_one_running_per_candidate")
        batch_op.drop_index("ix_gradings_fair_order")
        batch_op.drop_column("assessment_id")
        batch_op.drop_column("invitation_id")
        batch_op.drop_column("fair_tag")
        batch_op.drop_column("lane")
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_column("queue_share")
