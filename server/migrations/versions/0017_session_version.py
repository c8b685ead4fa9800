"""users.session_version: bumped to end every session of a user server-side

Revision ID: 0017_session_version
Revises: 0016_fair_queue
Create Date: 2026-12-05 18:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_session_version"
down_revision: str | Sequence[str] | None = "0016_fair_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite and PostgreSQL both have it): no batch copy of users, whose
    # rows other tables reference.
    op.add_column(
        "users", sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")
