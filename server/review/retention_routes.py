"""Data retention from the review pages: the owner deletes one candidate's data on request,
or sets how long an assessment's candidates' data is kept (``server.retention``)."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from server import retention
from server.extensions import db
from server.review import bp
from server.review.lookups import STAFF, assessment_or_404, invitation_or_404
from server.reviewing import access
from server.security import role_required


@bp.post("/candidates/<int:invitation_id>/delete")
@role_required(*STAFF)
def delete_candidate(invitation_id: int):
    invitation = invitation_or_404(invitation_id)
    if not access.can_manage(current_user, invitation.assessment):
        abort(403)
    assessment_id = invitation.assessment_id
    if request.form.get("confirm") != "delete":
        flash(_('Type "delete" to confirm.'), "error")
        return redirect(url_for("review.candidate", invitation_id=invitation.id))
    retention.delete_candidate(db(), invitation, actor_id=current_user.id, reason="on request")
    db().commit()
    flash(_("The candidate's data was deleted."), "ok")
    return redirect(url_for("review.candidates", assessment_id=assessment_id))


@bp.post("/assessments/<int:assessment_id>/retention")
@role_required(*STAFF)
def set_retention(assessment_id: int):
    assessment = assessment_or_404(assessment_id, manage=True)
    raw = request.form.get("days", "").strip()
    try:
        retention.set_policy(db(), assessment.id, int(raw) if raw else None)
        db().commit()
        flash(_("Retention period saved."), "ok")
    except ValueError as exc:
        flash(str(exc), "error")
    return redirect(url_for("review.candidates", assessment_id=assessment.id))
