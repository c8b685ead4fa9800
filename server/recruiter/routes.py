from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup

from graders.challenges import all_challenges
from graders.theory import load_bank
from server import assessments, fairqueue, invitations
from server.extensions import db
from server.formatting import format_number, id_links
from server.forms import flash_errors
from server.labels import challenge_title, lang, metric_label
from server.mail import backend, invitation_mail
from server.models import CandidateSummary, Invitation, MailOutbox
from server.recruiter import bp
from server.recruiter.forms import (
    ActionForm,
    AssessmentForm,
    CsvForm,
    ExtendForm,
    ExtraTimeForm,
    InviteForm,
)
from server.security import role_required
from server.stages import state_at
from server.summary import store

MANAGE = ("recruiter",)
#: Invitations per page of an assessment's page.
PER_PAGE = 50
STATE_LABELS = {
    "sent": _l("sent"),
    "opened": _l("opened"),
    "working": _l("working"),
    "submitted": _l("submitted"),
    "graded": _l("graded"),
    "failed": _l("failed to run"),
    "expired": _l("expired"),
    "revoked": _l("revoked"),
}


def _assessment_or_404(assessment_id: int):
    return assessments.get_assessment(db(), assessment_id, current_user) or abort(404)


def _invitation_or_404(invitation_id: int) -> Invitation:
    invitation = db().get(Invitation, invitation_id) or abort(404)
    _assessment_or_404(invitation.assessment_id)
    return invitation


#: The session key of the link shown once on the assessment's page after inviting/resending.
NEW_LINKS = "assay.new_links"


def _assessment_form(**data) -> AssessmentForm:
    form = AssessmentForm(**data)
    form.challenges.choices = [(slug, challenge_title(slug)) for slug in all_challenges()]
    form.theory.choices = [(q.id, q.title.get(lang())) for q in load_bank().questions]
    return form


def _mail_is_outbox() -> bool:
    return current_app.config["MAIL_URL"] == "outbox"


def _send_invitation(invitation: Invitation, token: str) -> str:
    """Mail the link (through the configured backend) and return it, for the page to show
    once: only the token's hash is stored, so this response is the last chance to see it."""
    link = current_app.config["BASE_URL"] + url_for("candidate.landing", token=token)
    mailer = backend(current_app.config["MAIL_URL"], current_app.config["MAIL_SENDER"], db())
    mailer.send(dataclasses.replace(invitation_mail(invitation, link), sender_id=current_user.id))
    invitation.sent_at = invitations.utcnow()
    return link


def _show_links_once(pairs: list[tuple[str, str]]) -> None:
    """Keep ``(email, link)`` pairs for the next page view only (then they are gone)."""
    # A CSV of 2000 rows would overflow the session cookie: show the first ones, the rest
    # are in the outbox (or the mail).
    session[NEW_LINKS] = [list(pair) for pair in pairs[:20]]
    session["assay.new_links_more"] = max(0, len(pairs) - 20)


def _bars_text(bars: dict | None) -> str:
    return ", ".join(f"{metric}={value:g}" for metric, value in (bars or {}).items())


def _default_bars() -> dict[str, list[tuple[str, Markup]]]:
    """Each challenge's own bars, per tier, for the form: ``[(tier, "F1 <code>f1 ≥ 0.85</code>")]``
    (the metric's name in the reader's language, then the bar as the override field takes it)."""
    return {
        slug: [
            (
                tier,
                Markup(", ").join(
                    Markup("{} <code>{} ≥ {}</code>").format(
                        metric_label(metric), metric, format_number(bar)
                    )
                    for metric, bar in bars.items()
                ),
            )
            for tier, bars in challenge.spec.thresholds.items()
        ]
        for slug, challenge in all_challenges().items()
    }


def _draft(form: AssessmentForm) -> assessments.AssessmentDraft:
    bars = {
        s: assessments.parse_bars(request.form.get(f"bars-{s}", "")) for s in form.challenges.data
    }
    return assessments.AssessmentDraft(
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


def _form_page(form: AssessmentForm, assessment=None, bars_text=None, status: int = 200):
    if bars_text is None:
        bars_text = {s: request.form.get(f"bars-{s}", "") for s in all_challenges()}
    return render_template(
        "recruiter/new_assessment.html",
        form=form,
        challenges=all_challenges(),
        assessment=assessment,
        bars_text=bars_text,
        default_bars=_default_bars(),
        tier_labels={"sample": _("sample"), "full": _("full")},
    ), status


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
            assessment = assessments.create_assessment(db(), current_user, _draft(form))
        except assessments.AssessmentError as exc:
            flash(str(exc), "error")
        else:
            db().commit()
            flash(_("Assessment created."), "ok")
            return redirect(url_for("recruiter.assessment", assessment_id=assessment.id))
    else:
        flash_errors(form)
    return _form_page(form)


@bp.route("/assessments/<int:assessment_id>/edit", methods=["GET", "POST"])
@role_required(*MANAGE)
def edit_assessment(assessment_id: int):
    """Change an assessment while no candidate has started it (then it is fixed: candidates
    must all have sat the same one)."""
    found = _assessment_or_404(assessment_id)
    if assessments.started(db(), found):
        flash(
            _(
                "A candidate has started this assessment: it can no longer be changed. "
                "Duplicate it to make a changed copy."
            ),
            "error",
        )
        return redirect(url_for("recruiter.assessment", assessment_id=assessment_id))
    if request.method == "GET":
        draft = assessments.draft_of(found)
        form = _assessment_form(
            data={
                **{key: value for key, value in vars(draft).items() if key != "bars"},
                "theory": draft.theory_question_ids,
            }
        )
        bars_text = {link.challenge_slug: _bars_text(link.bars) for link in found.challenges}
        return _form_page(form, found, bars_text)
    form = _assessment_form()
    if form.validate_on_submit():
        try:
            assessments.update_assessment(db(), found, _draft(form))
        except assessments.AssessmentError as exc:
            db().rollback()
            flash(str(exc), "error")
        else:
            db().commit()
            flash(_("Assessment saved."), "ok")
            return redirect(url_for("recruiter.assessment", assessment_id=assessment_id))
    else:
        flash_errors(form)
    return _form_page(form, found)


@bp.post("/assessments/<int:assessment_id>/duplicate")
@role_required(*MANAGE)
def duplicate_assessment(assessment_id: int):
    found = _assessment_or_404(assessment_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    copy = assessments.duplicate(
        db(), current_user, found, title=_("Copy of %(title)s", title=found.title)
    )
    db().commit()
    flash(_("Copied. Change what you need, then invite candidates."), "ok")
    return redirect(url_for("recruiter.edit_assessment", assessment_id=copy.id))


@bp.get("/assessments/<int:assessment_id>/preview")
@role_required(*MANAGE)
def preview(assessment_id: int):
    """What a candidate sees: the landing page, each statement and the theory questions, with
    nothing to press. No invitation is made or used and nothing is recorded."""
    from flask_babel import get_locale

    from graders.challenges import get_challenge
    from server.formatting import render_markdown

    found = _assessment_or_404(assessment_id)
    lang = "zh" if str(get_locale() or "en").startswith("zh") else "en"
    bank = load_bank()
    challenges = [get_challenge(slug) for slug in found.challenge_slugs]
    return render_template(
        "recruiter/preview.html",
        assessment=found,
        invitation=assessments.preview_invitation(found),
        challenges=challenges,
        statements=[render_markdown(c.statement(lang)) for c in challenges],
        questions=[bank.get(qid) for qid in found.theory_question_ids],
        lang=lang,
    )


@bp.get("/outbox")
@role_required(*MANAGE)
def outbox():
    """The mail this recruiter sent (with its links), when mail is kept in the outbox rather
    than sent: the only way to reach a candidate then. Admins see everyone's on their page."""
    if not _mail_is_outbox():
        abort(404)
    mails = db().scalars(
        sa.select(MailOutbox)
        .where(MailOutbox.sender_id == current_user.id)
        .order_by(MailOutbox.id.desc())
        .limit(200)
    )
    return render_template("admin/outbox.html", mails=list(mails), own=True)


@bp.get("/assessments/<int:assessment_id>")
@role_required(*MANAGE)
def assessment(assessment_id: int):
    return _assessment_page(_assessment_or_404(assessment_id))


def _assessment_page(found, invite_form: InviteForm | None = None, duplicate=None, status=200):
    now = invitations.utcnow()
    shown, page, pages, total = _invitations_page(found, request.args.get("page", 1, type=int))
    # Each row's four action links at the cost of four url_for calls a page, not a row.
    links = [
        id_links("recruiter.invitation_action", "invitation_id", action=action)
        for action in ("resend", "revoke", "extend", "extra-time")
    ]
    rows = [_row(inv, state_at(inv.stage, inv.ends_at, now), links) for inv in shown]
    return render_template(
        "recruiter/assessment.html",
        assessment=found,
        backlog=fairqueue.assessment_backlog(db(), found.id, now),
        now=now,
        rows=rows,
        page=page,
        pages=pages,
        total=total,
        state_labels={key: str(label) for key, label in STATE_LABELS.items()},
        invite_form=invite_form or InviteForm(formdata=None),
        csv_form=CsvForm(),
        new_links=session.pop(NEW_LINKS, None),
        more_links=session.pop("assay.new_links_more", 0),
        mail_is_outbox=_mail_is_outbox(),
        started=assessments.started(db(), found),
        deadline_passed=found.deadline is not None and found.deadline <= now,
        duplicate=duplicate,
        duplicate_state=invitations.state(duplicate, now) if duplicate is not None else None,
        action_form=ActionForm(formdata=None),
    ), status


@bp.get("/assessments/<int:assessment_id>/backlog")
@role_required(*MANAGE)
def backlog(assessment_id: int):
    """The assessment's grading backlog and expected drain time (polled by its page)."""
    found = _assessment_or_404(assessment_id)
    now = invitations.utcnow()
    return render_template(
        "recruiter/_backlog.html",
        assessment=found,
        backlog=fairqueue.assessment_backlog(db(), found.id, now),
        now=now,
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
    store.ensure(session, assessment)
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
        return _assessment_page(found, form, status=400)
    try:
        invitation, token = invitations.invite(
            db(),
            found,
            form.name.data,
            form.email.data,
            days=current_app.config["INVITATION_DAYS"],
            allow_duplicate=form.again.data,
        )
        link = _send_invitation(invitation, token)
    except invitations.DuplicateInvitation as exc:
        db().rollback()
        # Not refused, not silently doubled: the page asks, with the form kept as typed.
        return _assessment_page(found, form, duplicate=exc.existing, status=409)
    except invitations.InvitationError as exc:
        db().rollback()
        flash(_invitation_error(exc), "error")
        return _assessment_page(found, form, status=400)
    db().commit()
    flash(_("Invitation sent to %(email)s.", email=invitation.candidate_email), "ok")
    _show_links_once([(invitation.candidate_email, link)])
    return redirect(url_for("recruiter.assessment", assessment_id=assessment_id))


def _invitation_error(exc: invitations.InvitationError) -> str:
    """The service's reason in the page's language where it is one we know."""
    if isinstance(exc, invitations.BadEmail):
        return _("This is not an email address: %(reason)s", reason=f"{exc.email} ({exc.reason})")
    if isinstance(exc, invitations.DeadlinePassed):
        return _(
            "The assessment's deadline has passed: nobody could start it. Edit the assessment "
            "to set a later deadline (or none) first."
        )
    return str(exc)


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
        created, skipped = invitations.invite_many(
            db(), found, text, days=current_app.config["INVITATION_DAYS"]
        )
        links = [(inv.candidate_email, _send_invitation(inv, token)) for inv, token in created]
    except UnicodeDecodeError:
        db().rollback()
        flash(_("The file is not UTF-8 text."), "error")
    except invitations.InvitationError as exc:
        db().rollback()
        flash(_("Nothing was imported: %(reason)s", reason=_invitation_error(exc)), "error")
    else:
        db().commit()
        flash(ngettext("%(num)d invitation sent.", "%(num)d invitations sent.", len(created)), "ok")
        if skipped:
            flash(
                ngettext(
                    "%(num)d already invited, not invited again: %(emails)s",
                    "%(num)d already invited, not invited again: %(emails)s",
                    len(skipped),
                    emails=", ".join(skipped[:10]) + (" …" if len(skipped) > 10 else ""),
                ),
                "warning",
            )
        _show_links_once(links)
    return redirect(url_for("recruiter.assessment", assessment_id=assessment_id))


@bp.post("/invitations/<int:invitation_id>/<action>")
@role_required(*MANAGE)
def invitation_action(invitation_id: int, action: str):
    invitation = _invitation_or_404(invitation_id)
    try:
        link = _apply_action(invitation, action)
    except invitations.InvitationError as exc:
        flash(str(exc), "error")
    else:
        db().commit()
        if link:
            flash(_("A new link was sent to %(email)s.", email=invitation.candidate_email), "ok")
            _show_links_once([(invitation.candidate_email, link)])
        else:
            flash(_("Saved."), "ok")
    return redirect(url_for("recruiter.assessment", assessment_id=invitation.assessment_id))


def _apply_action(invitation: Invitation, action: str) -> str | None:
    """Apply a row's action; the new link for a resend (shown once), else None."""
    if action == "revoke" and ActionForm().validate_on_submit():
        invitations.revoke(invitation)
    elif action == "resend" and ActionForm().validate_on_submit():
        if invitation.revoked_at is not None:
            raise invitations.InvitationError(_("A revoked invitation cannot be resent."))
        return _send_invitation(invitation, invitations.rotate_token(invitation))
    elif action == "extend" and (form := ExtendForm()).validate_on_submit():
        invitations.extend(invitation, form.days.data)
    elif action == "extra-time" and (form := ExtraTimeForm()).validate_on_submit():
        invitations.set_extra_time(invitation, float(form.factor.data))
    else:
        abort(400)
    return None
