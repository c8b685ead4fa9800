"""A reviewer's "Grade again": the submission queued once more, recorded in the audit log.

Apart from the decisions: the candidates' summaries read the decisions, and grading writes
the summaries, so the module that calls into grading is one nothing below grading imports.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from server import audit
from server.grading import regrade as grading_regrade
from server.models import Grading, Invitation, Submission, User


def regrade(session: Session, user: User, submission: Submission) -> Grading:
    """``server.grading.regrade`` (safe to press twice), recorded in the audit log."""
    before = submission.latest.id if submission.latest else None
    grading = grading_regrade(session, submission)
    audit.record(
        session,
        "regrade",
        actor_id=user.id,
        assessment_id=session.get(Invitation, submission.invitation_id).assessment_id,
        invitation_id=submission.invitation_id,
        submission_id=submission.id,
        grading_id=grading.id,
        added=grading.id != before,
    )
    return grading
