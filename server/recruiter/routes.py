from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from graders.challenges import all_challenges
from graders.theory import load_bank
from server import assessments, invitations, summary
from server.extensions import db
from server.forms import flash_errors
from server.mail import backend, invitation_mail
from server.models import CandidateSummary, Invitation
from server.recruiter import bp
from server.recruiter.forms import (
    ActionForm,
    AssessmentForm,
    CsvForm,
    ExtendForm,
    ExtraTimeForm,
    InviteForm,
)
from server.rendering import id_links
from server.security import role_required

MANAGE = ("recruiter",)
#: Invitations per page of an assessment's page.
PER_PAGE = 50
STATE_LABELS = {
    "sent": _l("sent"),
    "opened": _l("opened"),
    "working": _l("working"),
    "submitted": _l("submitted"),
    "graded": _l("graded"),
    "expired": _l("expired"),
    "revoked": _l("revoked"),
}


def _assessment_or_404(assessment_id: int):
    return assessments.get_assessment(db(), assessment_id, current_user) or abort(404)


def _invitation_or_404(invitation_id: int) -> Invitation:
    invitation = db().get(Invitation, invitation_id) or abort(404)
    _assessment_or_404(invitation.assessment_id)
    return invitation


def _assessment_form() -> AssessmentForm:
    form = AssessmentForm()
    form.challenges.choices = [(slug, c.spec.title) for slug, c in all_challenges().items()]
    form.theory.choices = [(q.id, q.title.get("en")) for q in load_bank().questions]
    return form


def _send_invitation(invitation: Invitation, token: str) -> None:
    link = current_app.config["BASE_URL"] + url_for("candidate.landing", token=token)
    mailer = backend(current_app.config["MAIL_URL"], current_app.config["MAIL_SENDER"], db())
    mailer.send(invitation_mail(invitation, link))
    invitation.sent_at = invitations.utcnow()


@bp.get("/", endpoint="assessments")
@role_required(*MANAGE)
def assessments_list():
    rows = assessments.visible_assessments(db(), current_user)
    return render_template("recruiter/assessments.html", assessments=rows)


@bp.route("/assessments/new", methods=["GET", "POST"])
@role_required(*MANAGE)
def new_assessment():
    form = _assessment_form()
    if form.validate_on_submit():
        try:
            bars = {
                s: assessments.parse_bars(request.form.get(f"bars-{s}", ""))
                for s in form.challenges.data
            }
            draft = assessments.AssessmentDraft(
                title=form.title.data,
                challenges=form.challenges.data,
                theory_question_ids=form.theory.data or [],
                time_limit_minutes=form.time_limit_minutes.data,
                deadline=form.deadline.data,
                attempt_limit=form.attempt_limit.data,
                dataset_tier=form.dataset_tier.data,
                show_scores_to_candidate=form.show_scores_to_candidate.data,
                blind_review=form.blind_review.data,
                show_explanations_to_candidate=form.show_explanations_to_candidate.data,
                bars={s: b for s, b in bars.items() if b},
            )
            assessment = assessments.create_assessment(db(), current_user, draft)
        except assessments.AssessmentError as exc:
            flash(str(exc), "error")
        else:
            db().commit()
            flash(_("Assessment created."), "ok")
            return redirect(url_for("recruiter.assessment", assessment_id=assessment.id))
    else:
        flash_errors(form)
    return render_template("recruiter/new_assessment.html", form=form, challenges=all_challenges())


@bp.get("/assessments/<int:assessment_id>")
@role_required(*MANAGE)
def assessment(assessment_id: int):
    found = _assessment_or_404(assessment_id)
    now = invitations.utcnow()
    shown, page, pages, total = _invitations_page(found, request.args.get("page", 1, type=int))
    # Each row's four action links at the cost of four url_for calls a page, not a row.
    links = [
        id_links("recruiter.invitation_action", "invitation_id", action=action)
        for action in ("resend", "revoke", "extend", "extra-time")
    ]
    rows = [_row(inv, summary.state_at(inv.stage, inv.ends_at, now), links) for inv in shown]
    return render_template(
        "recruiter/assessment.html",
        assessment=found,
        rows=rows,
        page=page,
        pages=pages,
        total=total,
        state_labels={key: str(label) for key, label in STATE_LABELS.items()},
        invite_form=InviteForm(),
        csv_form=CsvForm(),
    )


@dataclass
class InvitationRow:
    """One row of the invitations table, its text already formatted (50 rows a page)."""

    id: int
    name: str
    email: str
    state: str
    expires: str
    factor: float
    resend: str
    revoke: str
    extend: str
    extra_time: str


def _row(inv, state: str, links) -> InvitationRow:
    resend, revoke, extend, extra_time = (link(inv.id) for link in links)
    return InvitationRow(
        inv.id,
        inv.candidate_name,
        inv.candidate_email,
        state,
        inv.expires_at.strftime("%Y-%m-%d %H:%M"),
        inv.extra_time_factor,
        resend,
        revoke,
        extend,
        extra_time,
    )


def _invitations_page(assessment, page: int) -> tuple[list, int, int, int]:
    """One page of the assessment's invitations, newest first, with the stage and end their
    state is derived from (``server.summary``): (rows, page, pages, total). A page is one
    count and one limited query, with no submission or report loaded."""
    session = db()
    summary.ensure(session, assessment)
    total = session.scalar(
        sa.select(sa.func.count(Invitation.id)).where(Invitation.assessment_id == assessment.id)
    )
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    shown = session.execute(
        sa.select(
            Invitation.id,
            Invitation.candidate_name,
            Invitation.candidate_email,
            Invitation.expires_at,
            Invitation.extra_time_factor,
            CandidateSummary.stage,
            CandidateSummary.ends_at,
        )
        .join(CandidateSummary, CandidateSummary.invitation_id == Invitation.id)
        .where(Invitation.assessment_id == assessment.id)
        .order_by(Invitation.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    )
    return list(shown), page, pages, total


@bp.post("/assessments/<int:assessment_id>/invite")
@role_required(*MANAGE)
def invite(assessment_id: int):
    found = _assessment_or_404(assessment_id)
    form = InviteForm()
    if not form.validate_on_submit():
        flash(_("Give the candidate's name and email."), "error")
    else:
        try:
            invitation, token = invitations.invite(
                db(),
                found,
                form.name.data,
                form.email.data,
                days=current_app.config["INVITATION_DAYS"],
            )
            _send_invitation(invitation, token)
        except invitations.InvitationError as exc:
            flash(str(exc), "error")
        else:
            db().commit()
            flash(_("Invitation sent to %(email)s.", email=invitation.candidate_email), "ok")
    return redirect(url_for("recruiter.assessment", assessment_id=assessment_id))


@bp.post("/assessments/<int:assessment_id>/invite-csv")
@role_required(*MANAGE)
def invite_csv(assessment_id: int):
    found = _assessment_or_404(assessment_id)
    form = CsvForm()
    if not form.validate_on_submit():
        flash(_("Choose a CSV file."), "error")
        return redirect(url_for("recruiter.assessment", assessment_id=assessment_id))
    try:
        text = form.file.data.read().decode("utf-8-sig")
        created = invitations.invite_many(
            db(), found, text, days=current_app.config["INVITATION_DAYS"]
        )
        for invitation, token in created:
            _send_invitation(invitation, token)
    except UnicodeDecodeError:
        db().rollback()
        flash(_("The file is not UTF-8 text."), "error")
    except invitations.InvitationError as exc:
        db().rollback()
        flash(_("Nothing was imported: %(reason)s", reason=str(exc)), "error")
    else:
        db().commit()
        flash(_("%(n)d invitations sent.", n=len(created)), "ok")
    return redirect(url_for("recruiter.assessment", assessment_id=assessment_id))


@bp.post("/invitations/<int:invitation_id>/<action>")
@role_required(*MANAGE)
def invitation_action(invitation_id: int, action: str):
    invitation = _invitation_or_404(invitation_id)
    try:
        _apply_action(invitation, action)
    except invitations.InvitationError as exc:
        flash(str(exc), "error")
    else:
        db().commit()
        flash(_("Saved."), "ok")
    return redirect(url_for("recruiter.assessment", assessment_id=invitation.assessment_id))


def _apply_action(invitation: Invitation, action: str) -> None:
    if action == "revoke" and ActionForm().validate_on_submit():
        invitations.revoke(invitation)
    elif action == "resend" and ActionForm().validate_on_submit():
        if invitation.revoked_at is not None:
            raise invitations.InvitationError(_("A revoked invitation cannot be resent."))
        _send_invitation(invitation, invitations.rotate_token(invitation))
    elif action == "extend" and (form := ExtendForm()).validate_on_submit():
        invitations.extend(invitation, form.days.data)
    elif action == "extra-time" and (form := ExtraTimeForm()).validate_on_submit():
        invitations.set_extra_time(invitation, float(form.factor.data))
    else:
        abort(400)
