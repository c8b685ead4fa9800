"""dry runs: every upload's contract checked in a sandbox before it is queued for grading

Revision ID: 0015_dry_runs
Revises: 0014_checks_submitted
Create Date: 2026-12-05 18:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_dry_runs"
down_revision: str | Sequence[str] | None = "0014_checks_submitted"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dry_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("max_tries", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
        sa.Column("queued_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("options_json", sa.Text(), nullable=False),
        sa.Column("steps_json", sa.Text(), nullable=False),
        sa.Column("result_json", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dry_runs_submission_id", "dry_runs", ["submission_id"])
    op.create_index("ix_dry_runs_status_lease", "dry_runs", ["status", "lease_expires_at"])


def downgrade() -> None:
    op.drop_index("ix_dry_runs_status_lease", table_name="dry_runs")
    op.drop_index("ix_dry_runs_submission_id", table_name="dry_runs")
    op.drop_table("dry_runs")
