"""What the review blueprint's views share: the staff roles, and the look-ups that answer
404 where the user may not review (``review.access``), so that nobody learns what exists
beyond their reach."""

from __future__ import annotations

from flask import abort, request
from flask_login import current_user

from server.extensions import db
from server.models import Assessment, Invitation, Submission
from server.reviewing import access

STAFF = ("recruiter", "reviewer")


def assessment_or_404(assessment_id: int, manage: bool = False) -> Assessment:
    assessment = access.assessment_for(db(), current_user, assessment_id) or abort(404)
    if manage and not access.can_manage(current_user, assessment):
        abort(403)
    return assessment


def invitation_or_404(invitation_id: int) -> Invitation:
    return access.invitation_for(db(), current_user, invitation_id) or abort(404)


def submission_or_404(submission_id: int) -> Submission:
    return access.submission_for(db(), current_user, submission_id) or abort(404)


def int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError:
        return default
