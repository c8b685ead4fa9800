"""theory answers scored by reviewers' per-point marks; two markings per answer on request

Revision ID: 0012_theory_marks
Revises: 0011_split_secrets
Create Date: 2026-12-05 18:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_theory_marks"
down_revision: str | Sequence[str] | None = "0011_split_secrets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "theory_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("mark", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitations.id"],
            name=op.f("fk_theory_marks_invitation_id_invitations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["users.id"],
            name=op.f("fk_theory_marks_reviewer_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_theory_marks")),
    )
    op.create_index(
        "ix_theory_marks_answer",
        "theory_marks",
        ["invitation_id", "question_id", "reviewer_id"],
        unique=False,
    )
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("double_review", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("agreement_margin", sa.Double(), nullable=False, server_default="2")
        )
    with op.batch_alter_table("candidate_summaries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_candidate_summaries_assessment_theory",
            ["assessment_id", "theory_total"],
            unique=False,
        )
    # The stored theory totals held the rubric's suggestions: drop every summary, and each
    # assessment's first table view makes them again from reviewers' marks alone.
    op.execute("DELETE FROM candidate_summaries")


def downgrade() -> None:
    with op.batch_alter_table("candidate_summaries", schema=None) as batch_op:
        batch_op.drop_index("ix_candidate_summaries_assessment_theory")
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_column("agreement_margin")
        batch_op.drop_column("double_review")
    op.drop_index("ix_theory_marks_answer", table_name="theory_marks")
    op.drop_table("theory_marks")
    op.execute("DELETE FROM candidate_summaries")
