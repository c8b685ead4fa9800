"""A submission's pages: its report (code, plots, explanation, logs, dry runs, the most
similar other submissions), the report as JSON, a re-grade, and two submissions side by side
where they look alike."""

from __future__ import annotations

import json

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from graders.options import OptionsError
from server import dryruns, exports, labels, similarity
from server.extensions import db
from server.models import Grading, Invitation, Submission
from server.review import bp
from server.review.lookups import STAFF, int_arg, submission_or_404
from server.reviewing import access, blind_review, regrades, stored
from server.security import role_required

#: The most similar submissions named on a report.
SIMILAR_SHOWN = 10


def _grading_of(submission: Submission) -> Grading | None:
    wanted = int_arg("grading", 0)
    if wanted:
        return next((g for g in submission.gradings if g.id == wanted), None) or abort(404)
    return submission.latest


@bp.get("/submissions/<int:submission_id>")
@role_required(*STAFF)
def report(submission_id: int):
    submission = submission_or_404(submission_id)
    session = db()
    invitation = session.get(Invitation, submission.invitation_id)  # access checked above
    grading = _grading_of(submission)
    data = grading.report if grading else None  # typed, read once (Report.from_json)
    # Code, plots and explanation were rendered once (by the worker, or the first view).
    cells, code = stored.code_view(session, submission)
    svgs, explanation = stored.grading_view(session, grading, data)
    if stored.wrote(session):
        session.commit()
    logs = data.log_tails() if data is not None else {}
    flagged = similarity.flags(session, submission, SIMILAR_SHOWN)
    # This candidate and the flagged ones, as this user may see them, in one go.
    who, *others = blind_review.identities(
        session, current_user, invitation.assessment, [invitation.id, *(i for _m, i in flagged)]
    )
    similar = list(zip([m for m, _i in flagged], others, strict=True))
    similarity_pending = not similarity.checked(session, submission)
    return render_template(
        "review/report.html",
        submission=submission,
        invitation=invitation,
        who=who,
        grading=grading,
        report=data,
        svgs=svgs,
        explanation=explanation,
        cells=cells,
        code=code,
        logs=logs,
        title_of=labels.challenge_title,
        similar=similar,
        similarity_pending=similarity_pending,
        dry_runs=[dryruns.view(row) for row in reversed(submission.dry_runs)],
    )


@bp.get("/submissions/<int:submission_id>/report.json")
@role_required(*STAFF)
def report_json(submission_id: int):
    submission = submission_or_404(submission_id)
    grading = _grading_of(submission)
    invitation = access.invitation_for(db(), current_user, submission.invitation_id)
    who = blind_review.identity(db(), current_user, invitation)
    body = exports.submission_record(submission, grading, who)
    return Response(
        json.dumps(body, ensure_ascii=False, indent=1),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="submission-{submission.id}.json"'},
    )


@bp.post("/submissions/<int:submission_id>/regrade")
@role_required(*STAFF)
def regrade(submission_id: int):
    submission = submission_or_404(submission_id)
    try:
        regrades.regrade(db(), current_user, submission)
    except OptionsError as exc:  # a row stored before options were checked
        db().rollback()
        flash(_("It cannot be graded again as it was: %(why)s", why=str(exc)), "error")
        return redirect(url_for("review.report", submission_id=submission.id))
    db().commit()
    flash(_("Queued for grading again."), "ok")
    return redirect(url_for("review.report", submission_id=submission.id))


@bp.get("/submissions/<int:submission_id>/similar/<int:other_id>")
@role_required(*STAFF)
def similarity_view(submission_id: int, other_id: int):
    submission = submission_or_404(submission_id)
    other = submission_or_404(other_id)
    session = db()
    if other.id not in similarity.comparable(session, submission) or other.id == submission.id:
        abort(404)
    codes = {s.id: similarity.code_of(s.filename, s.source) for s in (submission, other)}
    found = similarity.matches_for(submission.challenge_slug, submission.id, codes, threshold=0)
    match = found[0] if found else None
    sides = []
    for sub, slices in (
        (submission, match.slices_a if match else ()),
        (other, match.slices_b if match else ()),
    ):
        invitation = access.invitation_for(session, current_user, sub.invitation_id)
        sides.append(
            {
                "submission": sub,
                "who": blind_review.identity(session, current_user, invitation),
                "pieces": similarity.segments(codes[sub.id], slices),
            }
        )
    return render_template(
        "review/similarity.html", match=match, sides=sides, title_of=labels.challenge_title
    )
