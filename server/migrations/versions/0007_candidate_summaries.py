"""candidate summaries for the candidates table

Revision ID: 0007_summaries
Revises: 0006_similarity
Create Date: 2026-11-29 15:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_summaries"
down_revision: str | Sequence[str] | None = "0006_similarity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows are made on an assessment's first table view (server.summary.ensure).
    op.create_table(
        "candidate_summaries",
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("headline", sa.Double(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("minutes_used", sa.Double(), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessments.id"],
            name=op.f("fk_candidate_summaries_assessment_id_assessments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitations.id"],
            name=op.f("fk_candidate_summaries_invitation_id_invitations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("invitation_id", name=op.f("pk_candidate_summaries")),
    )
    with op.batch_alter_table("candidate_summaries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_candidate_summaries_assessment_outcome",
            ["assessment_id", "outcome"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("candidate_summaries", schema=None) as batch_op:
        batch_op.drop_index("ix_candidate_summaries_assessment_outcome")
    op.drop_table("candidate_summaries")
