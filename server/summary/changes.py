"""Changes the summaries' listeners cannot see, noted by their writers: a grading stored or
given up on with SQL statements (``server.grading``, ``server.dryruns``) that bypass the ORM.
Nothing here imports the rest of the package, so a writer depends on this note only."""

from __future__ import annotations

from sqlalchemy.orm import Session

#: ``session.info`` key: submissions whose candidates' summaries are refreshed before the
#: commit (``listeners``).
DIRTY_SUBMISSIONS = "assay.summary.submissions"


def touch_submission(session: Session, submission_id: int) -> None:
    """Refresh the summary of ``submission_id``'s candidate before the next commit (for
    writers that change gradings with SQL statements, which the ORM listener does not see)."""
    session.info.setdefault(DIRTY_SUBMISSIONS, set()).add(submission_id)
