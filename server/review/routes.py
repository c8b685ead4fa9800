"""The review pages: the assessments a user reviews, the candidates table and the owner's
settings, a candidate's page with theory marking and decisions, calibration, the theory
explanations, and the ``who`` filter every page names candidates with."""

from __future__ import annotations

import json

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from graders.errors import UnknownQuestionError
from graders.theory import load_bank
from server import audit, concept_checks, exports, labels
from server.extensions import db
from server.formatting import id_links
from server.models import DECISIONS, User
from server.review import bp, marking_view
from server.review.lookups import STAFF, assessment_or_404, int_arg, invitation_or_404
from server.reviewing import access, blind_review, decisions, marking, theory_scores
from server.security import role_required
from server.summary.rows import build_rows
from server.summary.table import candidates_table

OUTCOME_LABELS = {
    "passed": _l("passed"),
    "passed_flagged": _l("passed, flagged for review"),
    "below_bar": _l("below bar"),
    "failed": _l("failed to run"),
    "not_started": _l("not started"),
    "pending": _l("in progress"),
}
DECISION_LABELS = {"advance": _l("advance"), "hold": _l("hold"), "reject": _l("reject")}


@bp.get("/", endpoint="assessments")
@role_required(*STAFF)
def assessments_list():
    return render_template(
        "review/assessments.html", assessments=access.reviewable(db(), current_user)
    )


@bp.get("/assessments/<int:assessment_id>")
@role_required(*STAFF)
def candidates(assessment_id: int):
    assessment = assessment_or_404(assessment_id)
    from server.candidates import settle_timed_out

    if settle_timed_out(db(), assessment_id=assessment.id):
        db().commit()  # drafts whose time ran out count as handed in (by the clock)
    table = candidates_table(
        db(),
        current_user,
        assessment,
        sort=request.args.get("sort", "candidate"),
        descending=request.args.get("dir") == "desc",
        outcome=request.args.get("outcome") or None,
        theory=request.args.get("theory") or None,
        page=int_arg("page", 1),
    )
    manage = access.can_manage(current_user, assessment)
    # The rows' words are translated once and their links built once per page, not per row.
    words = {
        "passed": _("passed"),
        "flagged": _("passed, flagged for review"),
        "below": _("below bar"),
        "to_review": _("to review"),
        "so_far": _("%(total)s / %(max)s so far"),
        "minutes": _("%(n)d min"),
        "candidate": _("Candidate %(n)d"),
        "queued": _("queued"),
        "running": _("grading"),
        "graded": _("graded"),
        "failed": _("failed to run"),
    }
    from server.recruiter.routes import STATE_LABELS

    return render_template(
        "review/candidates.html",
        state_labels={key: str(label) for key, label in STATE_LABELS.items()},
        assessment=assessment,
        table=table,
        outcome_labels={key: str(label) for key, label in OUTCOME_LABELS.items()},
        theory_labels={"to_review": _("theory to review"), "scored": _("theory scored")},
        decision_labels={key: str(label) for key, label in DECISION_LABELS.items()},
        words=words,
        checks=concept_checks.totals(
            db(),
            list(assessment.theory_question_ids or []),
            [row.invitation_id for row in table.rows],
        ),
        candidate_link=id_links("review.candidate", "invitation_id"),
        report_link=id_links("review.report", "submission_id"),
        manage=manage,
        # The owner's forms only: a reviewer's page asks nothing more.
        reviewers=[a.user for a in _assignments(assessment.id)] if manage else [],
        retention_days=_retention_days(assessment.id) if manage else None,
    )


def _retention_days(assessment_id: int) -> int | None:
    from server import retention

    return retention.policy_days(db(), assessment_id)


def _assignments(assessment_id: int):
    import sqlalchemy as sa

    from server.models import ReviewAssignment

    return db().scalars(
        sa.select(ReviewAssignment).where(ReviewAssignment.assessment_id == assessment_id)
    )


@bp.post("/assessments/<int:assessment_id>/reviewers")
@role_required(*STAFF)
def assign(assessment_id: int):
    assessment = assessment_or_404(assessment_id, manage=True)
    try:
        access.assign_reviewer(db(), current_user, assessment, request.form.get("email", ""))
        db().commit()
        flash(_("The reviewer can now review this assessment."), "ok")
    except access.ReviewError as exc:
        flash(str(exc), "error")
    return redirect(url_for("review.candidates", assessment_id=assessment.id))


@bp.post("/assessments/<int:assessment_id>/blind")
@role_required(*STAFF)
def blind(assessment_id: int):
    assessment = assessment_or_404(assessment_id, manage=True)
    access.set_blind(db(), current_user, assessment, request.form.get("on") == "1")
    db().commit()
    return redirect(url_for("review.candidates", assessment_id=assessment.id))


@bp.get("/assessments/<int:assessment_id>/audit")
@role_required(*STAFF)
def audit_log(assessment_id: int):
    assessment = assessment_or_404(assessment_id, manage=True)
    events = audit.events(db(), assessment_id=assessment.id)
    actors = {u.id: u for u in db().query(User).filter(User.id.in_({e.actor_id for e in events}))}
    return render_template("review/audit.html", assessment=assessment, events=events, actors=actors)


@bp.get("/assessments/<int:assessment_id>/export.<fmt>")
@role_required(*STAFF)
def export(assessment_id: int, fmt: str):
    assessment = assessment_or_404(assessment_id)
    if fmt not in ("csv", "json"):
        abort(404)
    audit.record(db(), "export", actor_id=current_user.id, assessment_id=assessment.id, format=fmt)
    db().commit()
    name = f"assessment-{assessment.id}.{fmt}"
    if fmt == "csv":
        body, mimetype = exports.candidates_csv(db(), current_user, assessment), "text/csv"
    else:
        body = json.dumps(
            exports.full_reports(db(), current_user, assessment), ensure_ascii=False, indent=1
        )
        mimetype = "application/json"
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/candidates/<int:invitation_id>")
@role_required(*STAFF)
def candidate(invitation_id: int):
    invitation = invitation_or_404(invitation_id)
    session, lang = db(), labels.lang()
    from server import invitations as invitations_service

    if invitations_service.submit_drafts_by_clock(invitation):
        session.commit()  # the time ran out on drafts nobody reopened: hand them in now
    theory = marking_view.candidate_theory(session, current_user, invitation, lang)
    total, confirmed = theory_scores.theory_total(session, invitation)
    checks_total = concept_checks.score(invitation)
    from server.recruiter.routes import STATE_LABELS

    row = build_rows(session, invitation.assessment, [invitation.id], user=current_user)[0]
    return render_template(
        "review/candidate.html",
        checks={item.question_id: item for item in checks_total.per_question},
        checks_total=checks_total,
        row=row,
        by_clock=sum(1 for t in theory if t["answer"] and t["answer"].submitted_by_clock),
        state_labels={key: str(label) for key, label in STATE_LABELS.items()},
        outcome_labels={key: str(label) for key, label in OUTCOME_LABELS.items()},
        invitation=invitation,
        who=blind_review.identity(session, current_user, invitation),
        submissions=invitation.submissions,
        theory=theory,
        theory_total=total,
        theory_confirmed=confirmed,
        words=marking_view.words(),
        flag_words=marking_view.flag_words(),
        reading_words=marking_view.reading_words(),
        decisions=decisions.decision_history(session, invitation.id),
        decision_labels=DECISION_LABELS,
        decision_choices=DECISIONS,
        lang=lang,
        title_of=labels.challenge_title,
        manage=access.can_manage(current_user, invitation.assessment),
    )


@bp.post("/candidates/<int:invitation_id>/reveal")
@role_required(*STAFF)
def reveal(invitation_id: int):
    invitation = invitation_or_404(invitation_id)
    blind_review.reveal(db(), current_user, invitation)
    db().commit()
    return redirect(url_for("review.candidate", invitation_id=invitation.id))


@bp.post("/candidates/<int:invitation_id>/decision")
@role_required(*STAFF)
def decide(invitation_id: int):
    invitation = invitation_or_404(invitation_id)
    try:
        decisions.decide(
            db(),
            current_user,
            invitation,
            request.form.get("decision", ""),
            request.form.get("note", ""),
        )
        db().commit()
        flash(_("Decision recorded."), "ok")
    except access.ReviewError as exc:
        flash(str(exc), "error")
    return redirect(url_for("review.candidate", invitation_id=invitation.id) + "#decision")


@bp.post("/candidates/<int:invitation_id>/theory/<question_id>/marks")
@role_required(*STAFF)
def theory_mark(invitation_id: int, question_id: str):
    """One mark (JSON from the page's script, or a form without it): the marking's state as
    JSON, or back to the question."""
    invitation = invitation_or_404(invitation_id)
    data = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(data, dict) and not hasattr(data, "get"):
        data = {}
    fields = {name: str(data.get(name, "")) for name in ("kind", "item", "mark")}
    try:
        marking.record_mark(
            db(),
            current_user,
            invitation,
            question_id,
            fields["kind"],
            fields["item"],
            fields["mark"],
        )
        db().commit()
    except (marking.MarkError, UnknownQuestionError) as exc:
        db().rollback()
        if request.is_json:
            body = {"error": {"code": "invalid_mark", "message": str(exc)}}
            return jsonify(body), 400
        flash(str(exc), "error")
        return redirect(url_for("review.candidate", invitation_id=invitation.id))
    if request.is_json:
        return jsonify(marking_view.state_json(db(), current_user, invitation, question_id))
    anchor = f"#q-{question_id}"
    return redirect(url_for("review.candidate", invitation_id=invitation.id) + anchor)


@bp.post("/assessments/<int:assessment_id>/double-review")
@role_required(*STAFF)
def double_review(assessment_id: int):
    assessment = assessment_or_404(assessment_id, manage=True)
    try:
        marking.set_double_review(
            db(),
            current_user,
            assessment,
            request.form.get("on") == "1",
            request.form.get("margin", "2"),
        )
        db().commit()
        flash(_("Theory marking setting saved."), "ok")
    except marking.MarkError as exc:
        flash(str(exc), "error")
    return redirect(url_for("review.candidates", assessment_id=assessment.id))


@bp.get("/assessments/<int:assessment_id>/calibration")
@role_required(*STAFF)
def calibration(assessment_id: int):
    assessment = assessment_or_404(assessment_id)
    agreement, waiting = marking_view.calibration(db(), current_user, assessment)
    return render_template(
        "review/calibration.html",
        assessment=assessment,
        agreement=agreement,
        waiting=waiting,
        lang=labels.lang(),
    )


@bp.get("/theory")
@role_required(*STAFF)
def explanations():
    return render_template("review/explanations.html", bank=load_bank(), lang=labels.lang())


@bp.app_template_filter("who")
def who_filter(identity: blind_review.Identity) -> str:
    """A candidate as the page's language names them: "Candidate 7" (候选人 7) when blind."""
    return _("Candidate %(n)d", n=identity.number) if identity.blind else identity.label


# The blueprint's other views, by concern: ``server.review`` imports this module only, so
# that the package and its views stay a blueprint pair (scripts/architecture.py) and no
# import cycle runs through the package.
from server.review import integration_routes, report_routes, retention_routes  # noqa: E402,F401
