"""concept checks: each candidate's seed for the option order, and their picks

Revision ID: 0010_concept_checks
Revises: 0009_stored_renders
Create Date: 2026-12-05 18:30:00

"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_concept_checks"
down_revision: str | Sequence[str] | None = "0009_stored_renders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("check_seed", sa.Integer(), nullable=True))
    # A seed of its own for every existing candidate: a shared one would give every
    # candidate the same option order.
    invitations = sa.table("invitations", sa.column("id", sa.Integer), sa.column("check_seed"))
    bind = op.get_bind()
    for (invitation_id,) in bind.execute(sa.select(invitations.c.id)).all():
        bind.execute(
            invitations.update()
            .where(invitations.c.id == invitation_id)
            .values(check_seed=secrets.randbits(31))
        )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.alter_column("check_seed", existing_type=sa.Integer(), nullable=False)

    op.create_table(
        "concept_check_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("check_id", sa.String(length=64), nullable=False),
        sa.Column("choice", sa.String(length=64), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitations.id"],
            name=op.f("fk_concept_check_answers_invitation_id_invitations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concept_check_answers")),
        sa.UniqueConstraint(
            "invitation_id",
            "question_id",
            "check_id",
            name=op.f("uq_concept_check_answers_invitation_id"),
        ),
    )
    with op.batch_alter_table("concept_check_answers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_concept_check_answers_invitation_id"), ["invitation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("concept_check_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_concept_check_answers_invitation_id"))
    op.drop_table("concept_check_answers")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_column("check_seed")
