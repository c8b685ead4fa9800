"""Each assessment's split secret (graders/splits.py): made once, kept on the server.

The sample tiers' test split is drawn per assessment with this secret, so a candidate
cannot rebuild it from the public files. It lives in its own table (``split_secrets``) and
travels only from here to the worker's grading options: no page, API answer, report,
export or webhook carries it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from graders.splits import new_secret
from server.models import SplitSecret


def secret_for(session: Session, assessment_id: int) -> str:
    """The assessment's split secret, made now if it has none (two workers racing to make
    it agree: the loser reads the winner's)."""
    found = session.scalar(
        sa.select(SplitSecret.secret).where(SplitSecret.assessment_id == assessment_id)
    )
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(SplitSecret(assessment_id=assessment_id, secret=new_secret()))
    except IntegrityError:
        pass
    return session.scalar(
        sa.select(SplitSecret.secret).where(SplitSecret.assessment_id == assessment_id)
    )
