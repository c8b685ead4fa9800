"""a secret split seed per assessment; why a pass is flagged for review

Revision ID: 0011_split_secrets
Revises: 0010_concept_checks
Create Date: 2026-12-05 18:30:00

"""

import json
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_split_secrets"
down_revision: str | Sequence[str] | None = "0010_concept_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: graders.verdicts.REVIEW_KINDS as it stood when this migration was written.
REVIEW_KINDS = {"shadow": "replay", "budget": "budget", "embedded_data": "embedded_data"}


def upgrade() -> None:
    op.create_table(
        "split_secrets",
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("assessment_id"),
    )
    with op.batch_alter_table("gradings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("review_reasons", sa.String(length=64), server_default="", nullable=False)
        )
    bind = op.get_bind()
    # Every existing assessment gets its own secret, generated here and never written anywhere
    # but this table.
    ids = bind.execute(sa.text("SELECT id FROM assessments")).scalars().all()
    for assessment_id in ids:
        bind.execute(
            sa.text(
                "INSERT INTO split_secrets (assessment_id, secret, created_at) "
                "VALUES (:id, :secret, CURRENT_TIMESTAMP)"
            ),
            {"id": assessment_id, "secret": secrets.token_hex(16)},
        )
    # Passes already stored keep their flags: the shadow test's was the only one then.
    rows = bind.execute(
        sa.text("SELECT id, report_json FROM gradings WHERE passed AND report_json IS NOT NULL")
    ).all()
    for grading_id, report_json in rows:
        try:
            flags = json.loads(report_json).get("flags") or []
        except (ValueError, AttributeError):
            continue
        kinds = {f.get("kind") for f in flags if isinstance(f, dict)}
        reasons = ",".join(r for k, r in REVIEW_KINDS.items() if k in kinds)
        if reasons:
            bind.execute(
                sa.text("UPDATE gradings SET review_reasons = :r WHERE id = :id"),
                {"r": reasons, "id": grading_id},
            )
    # Their candidates' stored table rows said "passed": dropped, they are made again (with
    # "passed, flagged for review") when the table is next read (server.summary.ensure).
    bind.execute(
        sa.text(
            "DELETE FROM candidate_summaries WHERE invitation_id IN ("
            " SELECT s.invitation_id FROM submissions s JOIN gradings g"
            " ON g.submission_id = s.id WHERE g.review_reasons <> '')"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("gradings", schema=None) as batch_op:
        batch_op.drop_column("review_reasons")
    op.drop_table("split_secrets")
