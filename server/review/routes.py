from __future__ import annotations

import json

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from graders.errors import UnknownQuestionError
from graders.theory import load_bank
from server import audit, concept_checks, dryruns, exports, labels, similarity
from server.extensions import db
from server.formatting import id_links
from server.models import DECISIONS, Grading, Invitation, Submission, User
from server.review import bp, fragments, marking, marking_view, stored
from server.review import service as svc
from server.security import role_required

STAFF = ("recruiter", "reviewer")
OUTCOME_LABELS = {
    "passed": _l("passed"),
    "passed_flagged": _l("passed, flagged for review"),
    "below_bar": _l("below bar"),
    "failed": _l("failed to run"),
    "not_started": _l("not started"),
    "pending": _l("in progress"),
}
DECISION_LABELS = {"advance": _l("advance"), "hold": _l("hold"), "reject": _l("reject")}


def _lang() -> str:
    from flask_babel import get_locale

    return "zh" if str(get_locale() or "en").startswith("zh") else "en"


def _assessment_or_404(assessment_id: int, manage: bool = False):
    assessment = svc.assessment_for(db(), current_user, assessment_id) or abort(404)
    if manage and not svc.can_manage(current_user, assessment):
        abort(403)
    return assessment


def _invitation_or_404(invitation_id: int):
    return svc.invitation_for(db(), current_user, invitation_id) or abort(404)


def _submission_or_404(submission_id: int) -> Submission:
    return svc.submission_for(db(), current_user, submission_id) or abort(404)


def _int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError:
        return default


@bp.get("/", endpoint="assessments")
@role_required(*STAFF)
def assessments_list():
    return render_template(
        "review/assessments.html", assessments=svc.reviewable(db(), current_user)
    )


@bp.get("/assessments/<int:assessment_id>")
@role_required(*STAFF)
def candidates(assessment_id: int):
    assessment = _assessment_or_404(assessment_id)
    from server.candidates import settle_timed_out

    if settle_timed_out(db(), assessment_id=assessment.id):
        db().commit()  # drafts whose time ran out count as handed in (by the clock)
    table = svc.candidates_table(
        db(),
        current_user,
        assessment,
        sort=request.args.get("sort", "candidate"),
        descending=request.args.get("dir") == "desc",
        outcome=request.args.get("outcome") or None,
        theory=request.args.get("theory") or None,
        page=_int_arg("page", 1),
    )
    manage = svc.can_manage(current_user, assessment)
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
    assessment = _assessment_or_404(assessment_id, manage=True)
    try:
        svc.assign_reviewer(db(), current_user, assessment, request.form.get("email", ""))
        db().commit()
        flash(_("The reviewer can now review this assessment."), "ok")
    except svc.ReviewError as exc:
        flash(str(exc), "error")
    return redirect(url_for("review.candidates", assessment_id=assessment.id))


@bp.post("/assessments/<int:assessment_id>/blind")
@role_required(*STAFF)
def blind(assessment_id: int):
    assessment = _assessment_or_404(assessment_id, manage=True)
    svc.set_blind(db(), current_user, assessment, request.form.get("on") == "1")
    db().commit()
    return redirect(url_for("review.candidates", assessment_id=assessment.id))


@bp.get("/assessments/<int:assessment_id>/audit")
@role_required(*STAFF)
def audit_log(assessment_id: int):
    assessment = _assessment_or_404(assessment_id, manage=True)
    events = audit.events(db(), assessment_id=assessment.id)
    actors = {u.id: u for u in db().query(User).filter(User.id.in_({e.actor_id for e in events}))}
    return render_template("review/audit.html", assessment=assessment, events=events, actors=actors)


@bp.get("/assessments/<int:assessment_id>/export.<fmt>")
@role_required(*STAFF)
def export(assessment_id: int, fmt: str):
    assessment = _assessment_or_404(assessment_id)
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
    invitation = _invitation_or_404(invitation_id)
    session, lang = db(), _lang()
    from server import invitations as invitations_service

    if invitations_service.submit_drafts_by_clock(invitation):
        session.commit()  # the time ran out on drafts nobody reopened: hand them in now
    theory = marking_view.candidate_theory(session, current_user, invitation, lang)
    total, confirmed = svc.theory_total(session, invitation)
    checks_total = concept_checks.score(invitation)
    from server.recruiter.routes import STATE_LABELS

    row = svc.build_rows(session, invitation.assessment, [invitation.id], user=current_user)[0]
    return render_template(
        "review/candidate.html",
        checks={item.question_id: item for item in checks_total.per_question},
        checks_total=checks_total,
        row=row,
        by_clock=sum(1 for t in theory if t["answer"] and t["answer"].submitted_by_clock),
        state_labels={key: str(label) for key, label in STATE_LABELS.items()},
        outcome_labels={key: str(label) for key, label in OUTCOME_LABELS.items()},
        invitation=invitation,
        who=svc.identity(session, current_user, invitation),
        submissions=invitation.submissions,
        theory=theory,
        theory_total=total,
        theory_confirmed=confirmed,
        words=marking_view.words(),
        flag_words=marking_view.flag_words(),
        reading_words=marking_view.reading_words(),
        decisions=svc.decision_history(session, invitation.id),
        decision_labels=DECISION_LABELS,
        decision_choices=DECISIONS,
        lang=lang,
        title_of=labels.challenge_title,
        manage=svc.can_manage(current_user, invitation.assessment),
    )


@bp.post("/candidates/<int:invitation_id>/reveal")
@role_required(*STAFF)
def reveal(invitation_id: int):
    invitation = _invitation_or_404(invitation_id)
    svc.reveal(db(), current_user, invitation)
    db().commit()
    return redirect(url_for("review.candidate", invitation_id=invitation.id))


@bp.post("/candidates/<int:invitation_id>/decision")
@role_required(*STAFF)
def decide(invitation_id: int):
    invitation = _invitation_or_404(invitation_id)
    try:
        svc.decide(
            db(),
            current_user,
            invitation,
            request.form.get("decision", ""),
            request.form.get("note", ""),
        )
        db().commit()
        flash(_("Decision recorded."), "ok")
    except svc.ReviewError as exc:
        flash(str(exc), "error")
    return redirect(url_for("review.candidate", invitation_id=invitation.id) + "#decision")


@bp.post("/candidates/<int:invitation_id>/theory/<question_id>/marks")
@role_required(*STAFF)
def theory_mark(invitation_id: int, question_id: str):
    """One mark (JSON from the page's script, or a form without it): the marking's state as
    JSON, or back to the question."""
    invitation = _invitation_or_404(invitation_id)
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
    assessment = _assessment_or_404(assessment_id, manage=True)
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
    assessment = _assessment_or_404(assessment_id)
    agreement, waiting = marking_view.calibration(db(), current_user, assessment)
    return render_template(
        "review/calibration.html",
        assessment=assessment,
        agreement=agreement,
        waiting=waiting,
        lang=_lang(),
    )


#: The most similar submissions named on a report.
SIMILAR_SHOWN = 10


def _grading_of(submission: Submission) -> Grading | None:
    wanted = _int_arg("grading", 0)
    if wanted:
        return next((g for g in submission.gradings if g.id == wanted), None) or abort(404)
    return submission.latest


@bp.get("/submissions/<int:submission_id>")
@role_required(*STAFF)
def report(submission_id: int):
    submission = _submission_or_404(submission_id)
    session = db()
    invitation = session.get(Invitation, submission.invitation_id)  # access checked above
    grading = _grading_of(submission)
    data = fragments.report_dict(grading.report_json if grading else None)
    # Code, plots and explanation were rendered once (by the worker, or the first view).
    cells, code = stored.code_view(session, submission)
    svgs, explanation = stored.grading_view(session, grading, data)
    if stored.wrote(session):
        session.commit()
    logs = {name: fragments.log_tail(text) for name, text in (data.get("logs") or {}).items()}
    flagged = svc.similar(session, submission, SIMILAR_SHOWN)
    # This candidate and the flagged ones, as this user may see them, in one go.
    who, *others = svc.identities(
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
    submission = _submission_or_404(submission_id)
    grading = _grading_of(submission)
    invitation = svc.invitation_for(db(), current_user, submission.invitation_id)
    who = svc.identity(db(), current_user, invitation)
    body = exports.submission_record(submission, grading, who)
    return Response(
        json.dumps(body, ensure_ascii=False, indent=1),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="submission-{submission.id}.json"'},
    )


@bp.post("/submissions/<int:submission_id>/regrade")
@role_required(*STAFF)
def regrade(submission_id: int):
    submission = _submission_or_404(submission_id)
    svc.regrade(db(), current_user, submission)
    db().commit()
    flash(_("Queued for grading again."), "ok")
    return redirect(url_for("review.report", submission_id=submission.id))


@bp.get("/theory")
@role_required(*STAFF)
def explanations():
    return render_template("review/explanations.html", bank=load_bank(), lang=_lang())


# -- API tokens and webhooks (HTML pages; the API itself is server/api) -----------------------


@bp.route("/tokens", methods=["GET", "POST"])
@role_required(*STAFF)
def tokens():
    from server.api import tokens as api_tokens
    from server.models.api import SCOPES

    new_token = None
    if request.method == "POST":
        scope = request.form.get("scope", "read")
        if scope not in SCOPES:
            abort(400)
        _row, new_token = api_tokens.create(db(), current_user, request.form.get("name", ""), scope)
        db().commit()
    return render_template(
        "api/tokens.html",
        rows=api_tokens.for_user(db(), current_user),
        new_token=new_token,
        scopes=SCOPES,
    )


@bp.post("/tokens/<int:token_id>/revoke")
@role_required(*STAFF)
def revoke_token(token_id: int):
    from server.api import tokens as api_tokens

    if not api_tokens.revoke(db(), current_user, token_id):
        abort(404)
    db().commit()
    flash(_("Token revoked."), "ok")
    return redirect(url_for("review.tokens"))


@bp.route("/webhooks", methods=["GET", "POST"])
@role_required("recruiter")
def webhooks():
    from server import webhooks as hooks
    from server.models import Webhook
    from server.models.api import EVENTS

    created = None
    if request.method == "POST":
        try:
            created = hooks.register(
                db(),
                current_user.id,
                request.form.get("url", ""),
                request.form.getlist("events"),
                allow_hosts=current_app.config["WEBHOOK_ALLOW_HOSTS"],
            )
            db().commit()
        except hooks.WebhookError as exc:
            flash(str(exc), "error")
    rows = db().query(Webhook).filter_by(owner_id=current_user.id).order_by(Webhook.id).all()
    return render_template(
        "api/webhooks.html",
        rows=rows,
        created=created,
        events=EVENTS,
        deliveries=hooks.deliveries(db(), current_user.id),
    )


@bp.post("/webhooks/<int:webhook_id>/delete")
@role_required("recruiter")
def delete_webhook(webhook_id: int):
    from server.models import Webhook

    hook = db().get(Webhook, webhook_id)
    if hook is None or hook.owner_id != current_user.id:
        abort(404)
    hook.active = False  # kept: its deliveries' log stays readable
    db().commit()
    return redirect(url_for("review.webhooks"))


# -- retention ---------------------------------------------------------------------------------


@bp.post("/candidates/<int:invitation_id>/delete")
@role_required(*STAFF)
def delete_candidate(invitation_id: int):
    from server import retention

    invitation = _invitation_or_404(invitation_id)
    if not svc.can_manage(current_user, invitation.assessment):
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
    from server import retention

    assessment = _assessment_or_404(assessment_id, manage=True)
    raw = request.form.get("days", "").strip()
    try:
        retention.set_policy(db(), assessment.id, int(raw) if raw else None)
        db().commit()
        flash(_("Retention period saved."), "ok")
    except ValueError as exc:
        flash(str(exc), "error")
    return redirect(url_for("review.candidates", assessment_id=assessment.id))


@bp.get("/submissions/<int:submission_id>/similar/<int:other_id>")
@role_required(*STAFF)
def similarity_view(submission_id: int, other_id: int):
    submission = _submission_or_404(submission_id)
    other = _submission_or_404(other_id)
    session = db()
    if other.id not in svc.comparable(session, submission) or other.id == submission.id:
        abort(404)
    codes = {s.id: similarity.code_of(s.filename, s.source) for s in (submission, other)}
    found = similarity.matches_for(submission.challenge_slug, submission.id, codes, threshold=0)
    match = found[0] if found else None
    sides = []
    for sub, slices in (
        (submission, match.slices_a if match else ()),
        (other, match.slices_b if match else ()),
    ):
        invitation = svc.invitation_for(session, current_user, sub.invitation_id)
        sides.append(
            {
                "submission": sub,
                "who": svc.identity(session, current_user, invitation),
                "pieces": similarity.segments(codes[sub.id], slices),
            }
        )
    return render_template(
        "review/similarity.html", match=match, sides=sides, title_of=labels.challenge_title
    )


@bp.app_template_filter("who")
def who_filter(identity: svc.Identity) -> str:
    """A candidate as the page's language names them: "Candidate 7" (候选人 7) when blind."""
    return _("Candidate %(n)d", n=identity.number) if identity.blind else identity.label
