"""the candidates table's whole rows in candidate_summaries; report parts rendered once

Revision ID: 0009_stored_renders
Revises: 0008_explanations
Create Date: 2026-11-29 17:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_stored_renders"
down_revision: str | Sequence[str] | None = "0008_explanations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: The summaries' indexes after the assessment id: one per sort key of the candidates table.
SUMMARY_INDEXES = {
    "ix_candidate_summaries_assessment_outcome": ["outcome"],
    "ix_candidate_summaries_assessment_name": ["name_key"],
    "ix_candidate_summaries_assessment_label": ["label_key", "name_key"],
    "ix_candidate_summaries_assessment_stage": ["stage", "ends_at"],
    "ix_candidate_summaries_assessment_headline": ["headline"],
    "ix_candidate_summaries_assessment_attempts": ["attempts"],
    "ix_candidate_summaries_assessment_minutes": ["minutes_used"],
    "ix_candidate_summaries_assessment_decision": ["decision"],
}


def _summaries(*extra: sa.Column) -> None:
    op.create_table(
        "candidate_summaries",
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("headline", sa.Double(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("minutes_used", sa.Double(), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        *extra,
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


def upgrade() -> None:
    # A summary is derived data: the table is made anew with its new columns, and each
    # assessment's rows are rebuilt on its first table view (server.summary.ensure).
    with op.batch_alter_table("candidate_summaries", schema=None) as batch_op:
        batch_op.drop_index("ix_candidate_summaries_assessment_outcome")
    op.drop_table("candidate_summaries")
    _summaries(
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("label_key", sa.String(length=32), nullable=False),
        sa.Column("theory_total", sa.Double(), nullable=True),
        sa.Column("theory_max", sa.Double(), nullable=True),
        sa.Column("theory_confirmed", sa.Boolean(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=True),
        sa.Column("cells_json", sa.Text(), nullable=False),
    )
    with op.batch_alter_table("candidate_summaries", schema=None) as batch_op:
        for name, columns in SUMMARY_INDEXES.items():
            batch_op.create_index(name, ["assessment_id", *columns], unique=False)
    op.create_index(
        "ix_similarity_pairs_submission_share",
        "similarity_pairs",
        ["submission_id", "share", "other_id"],
        unique=False,
    )
    op.create_table(
        "grading_renders",
        sa.Column("grading_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("plots_json", sa.Text(), nullable=False),
        sa.Column("explanation_json", sa.Text(), nullable=False),
        sa.Column("rendered_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grading_id"],
            ["gradings.id"],
            name=op.f("fk_grading_renders_grading_id_gradings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("grading_id", name=op.f("pk_grading_renders")),
    )
    op.create_table(
        "submission_renders",
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("rendered_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_submission_renders_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("submission_id", name=op.f("pk_submission_renders")),
    )


def downgrade() -> None:
    op.drop_table("submission_renders")
    op.drop_table("grading_renders")
    op.drop_index("ix_similarity_pairs_submission_share", table_name="similarity_pairs")
    with op.batch_alter_table("candidate_summaries", schema=None) as batch_op:
        for name in SUMMARY_INDEXES:
            batch_op.drop_index(name)
    op.drop_table("candidate_summaries")
    _summaries()
    with op.batch_alter_table("candidate_summaries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_candidate_summaries_assessment_outcome", ["assessment_id", "outcome"], unique=False
        )
