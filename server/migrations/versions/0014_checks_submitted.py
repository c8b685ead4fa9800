"""concept checks open after the written answer: when a question's checks were submitted

Revision ID: 0014_checks_submitted
Revises: 0013_first_hour
Create Date: 2026-12-05 19:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_checks_submitted"
down_revision: str | Sequence[str] | None = "0013_first_hour"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("theory_answers") as batch:
        batch.add_column(sa.Column("checks_submitted_at", sa.DateTime(), nullable=True))
    # Picks made before this revision were made under the old rule (final with the last
    # written answer): where that answer is submitted, its checks count as submitted with it.
    answers = sa.table(
        "theory_answers",
        sa.column("submitted_at", sa.DateTime),
        sa.column("checks_submitted_at", sa.DateTime),
    )
    op.execute(
        answers.update()
        .where(answers.c.submitted_at.is_not(None))
        .values(checks_submitted_at=answers.c.submitted_at)
    )


def downgrade() -> None:
    with op.batch_alter_table("theory_answers") as batch:
        batch.drop_column("checks_submitted_at")
