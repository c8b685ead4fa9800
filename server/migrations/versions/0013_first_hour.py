"""the first hour: drafts submitted by the clock, finishing early, the recruiter's own outbox

Revision ID: 0013_first_hour
Revises: 0012_theory_marks
Create Date: 2026-12-05 18:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_first_hour"
down_revision: str | Sequence[str] | None = "0012_theory_marks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("theory_answers") as batch:
        batch.add_column(
            sa.Column("submitted_by_clock", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("invitations") as batch:
        batch.add_column(sa.Column("finished_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("mail_outbox") as batch:
        batch.add_column(sa.Column("sender_id", sa.Integer(), nullable=True))
        batch.create_index("ix_mail_outbox_sender_id", ["sender_id"])
        batch.create_foreign_key(
            "fk_mail_outbox_sender_id_users", "users", ["sender_id"], ["id"], ondelete="SET NULL"
        )
    # The candidates table's rows are rebuilt on their first view (summary.ensure): their
    # headline is now the bar's metric, and a failed run is the state "failed".
    op.execute("DELETE FROM candidate_summaries")


def downgrade() -> None:
    with op.batch_alter_table("mail_outbox") as batch:
        batch.drop_constraint("fk_mail_outbox_sender_id_users", type_="foreignkey")
        batch.drop_index("ix_mail_outbox_sender_id")
        batch.drop_column("sender_id")
    with op.batch_alter_table("invitations") as batch:
        batch.drop_column("finished_at")
    with op.batch_alter_table("theory_answers") as batch:
        batch.drop_column("submitted_by_clock")
