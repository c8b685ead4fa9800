"""every stored report with its host paths made short, so that reading one is only parsing

Reports have been stored through ``Report.to_json``, which makes host paths short, since
commit 539b037; rows stored before that were scrubbed again on every read, which cost each
page the walk of the whole report, logs included. This rewrites those rows once.

Revision ID: 0018_reports_scrubbed_at_rest
Revises: 0017_session_version
Create Date: 2026-12-06 01:00:00

"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from graders.report import scrub_paths

revision: str = "0018_reports_scrubbed_at_rest"
down_revision: str | Sequence[str] | None = "0017_session_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Rows read per query: a large table is rewritten without holding it all in memory.
BATCH = 500


def upgrade() -> None:
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT id, report_json FROM gradings WHERE id > :last"
                " AND report_json IS NOT NULL ORDER BY id LIMIT :batch"
            ),
            {"last": last, "batch": BATCH},
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        for grading_id, text in rows:
            scrubbed = _scrubbed(text)
            if scrubbed is not None and scrubbed != text:
                bind.execute(
                    sa.text("UPDATE gradings SET report_json = :text WHERE id = :id"),
                    {"text": scrubbed, "id": grading_id},
                )


def _scrubbed(text: str) -> str | None:
    """The stored text with host paths made short, as ``Report.to_json`` writes it; a text
    that is no JSON is scrubbed as text (``UnreadableReport`` keeps it so); None: nothing to
    do."""
    if "/" not in text:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return scrub_paths(text)
    return json.dumps(scrub_paths(data), indent=2, ensure_ascii=False)


def downgrade() -> None:
    # The long paths are not kept anywhere: nothing to restore, and nothing needs them.
    pass
