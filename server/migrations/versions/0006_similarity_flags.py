"""similarity flags stored per submission

Revision ID: 0006_similarity
Revises: 0005_workers
Create Date: 2026-11-29 15:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_similarity"
down_revision: str | Sequence[str] | None = "0005_workers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "similarity_checks",
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_similarity_checks_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("submission_id", name=op.f("pk_similarity_checks")),
    )
    op.create_table(
        "similarity_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("share_mine", sa.Double(), nullable=False),
        sa.Column("share_theirs", sa.Double(), nullable=False),
        sa.Column("share", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["other_id"],
            ["submissions.id"],
            name=op.f("fk_similarity_pairs_other_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_similarity_pairs_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_similarity_pairs")),
        sa.UniqueConstraint(
            "submission_id", "other_id", name=op.f("uq_similarity_pairs_submission_id")
        ),
    )
    with op.batch_alter_table("similarity_pairs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_similarity_pairs_other_id"), ["other_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_similarity_pairs_submission_id"), ["submission_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("similarity_pairs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_similarity_pairs_submission_id"))
        batch_op.drop_index(batch_op.f("ix_similarity_pairs_other_id"))
    op.drop_table("similarity_pairs")
    op.drop_table("similarity_checks")
