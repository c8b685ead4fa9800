from __future__ import annotations

from functools import wraps
from io import BytesIO

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from graders.challenges import get_challenge
from graders.contract import STEP_LABELS, explain
from graders.selfcheck import starter_bundle
from graders.theory import load_bank
from server import candidates, concept_checks, invitations, submission_status
from server.candidate import bp
from server.candidate.forms import AnswerForm, ChecksForm, StartForm, UploadForm
from server.extensions import db
from server.formatting import render_markdown
from server.models import utcnow

LINK_STATUS = {"unknown": 404, "expired": 410, "revoked": 403}
STATUS_LABELS = {
    "checking": _l("checking"),
    "check_failed": _l("check failed"),
    "queued": _l("queued"),
    "running": _l("grading"),
    "graded": _l("scored"),
    "failed": _l("failed"),
}


@bp.after_request
def no_store(response):
    # The link is the key: keep its pages out of shared and browser caches.
    response.headers["Cache-Control"] = "no-store"
    return response


def with_invitation(view=None, *, expired_ok: bool = False):
    """Open the link's invitation, or answer with the page that says why it cannot be used.

    ``expired_ok``: a submission's status still opens after the link expired (it is graded
    after the end when it came in before).
    """
    if view is None:
        return lambda v: with_invitation(v, expired_ok=expired_ok)

    @wraps(view)
    def wrapped(token: str, **kwargs):
        try:
            invitation = candidates.open_link(db(), token, expired_ok=expired_ok)
        except candidates.LinkError as exc:
            return render_template("candidate/link_error.html", kind=exc.kind), LINK_STATUS[
                exc.kind
            ]
        return view(invitation, token, **kwargs)

    return wrapped


def started_only(view):
    @wraps(view)
    def wrapped(invitation, token, **kwargs):
        if invitation.opened_at is None:
            return redirect(url_for("candidate.landing", token=token))
        return view(invitation, token, **kwargs)

    return wrapped


def _lang() -> str:
    return "zh" if str(get_locale() or "en").startswith("zh") else "en"


@bp.get("/<token>")
@with_invitation
def landing(invitation, token):
    if invitation.opened_at is not None:
        return redirect(url_for("candidate.work", token=token))
    candidates.mark_viewed(invitation)
    db().commit()
    challenges = [get_challenge(slug) for slug in invitation.assessment.challenge_slugs]
    return render_template(
        "candidate/landing.html",
        invitation=invitation,
        token=token,
        challenges=challenges,
        form=StartForm(),
        lang=_lang(),
        deadline_passed=candidates.deadline_passed(invitation),
    )


@bp.post("/<token>/start")
@with_invitation
def start(invitation, token):
    if StartForm().validate_on_submit():
        try:
            candidates.start_clock(invitation)
        except candidates.CandidateError as exc:
            flash(_message(exc), "error")
            return redirect(url_for("candidate.landing", token=token))
        db().commit()
    return redirect(url_for("candidate.work", token=token))


@bp.get("/<token>/work")
@with_invitation
@started_only
def work(invitation, token):
    now = utcnow()
    if invitations.submit_drafts_by_clock(invitation, now):
        db().commit()  # the time ran out on drafts: they are handed in, never thrown away
    bank = load_bank()
    questions = [bank.get(qid) for qid in invitation.assessment.theory_question_ids]
    rows = [
        (
            get_challenge(slug),
            candidates.attempts_used(invitation, slug),
            [s for s in invitation.submissions if s.challenge_slug == slug],
        )
        for slug in invitation.assessment.challenge_slugs
    ]
    return render_template(
        "candidate/work.html",
        invitation=invitation,
        token=token,
        rows=rows,
        questions=questions,
        answers=candidates.answers_by_question(invitation),
        lang=_lang(),
        accepting=invitations.accepting(invitation, now),
        seconds_left=invitations.seconds_left(invitation, now),
        ends_at=invitations.time_ends_at(invitation),
        upload_form=UploadForm(),
        answer_form=AnswerForm(),
        checks_form=ChecksForm(),
        # Only the questions whose written answer is submitted: the rest is not in the page.
        checks={q.id: concept_checks.for_work_page(invitation, q) for q in questions},
        checks_final={q.id: concept_checks.is_final(invitation, q.id, now) for q in questions},
        status_labels=STATUS_LABELS,
        explanations=candidates.explanations_state(invitation, now),
    )


def _challenge_or_404(invitation, slug):
    if slug not in invitation.assessment.challenge_slugs:
        abort(404)
    return get_challenge(slug)


@bp.get("/<token>/challenges/<slug>")
@with_invitation
@started_only
def statement(invitation, token, slug):
    challenge = _challenge_or_404(invitation, slug)
    html = render_markdown(challenge.statement(_lang()))
    return render_template(
        "candidate/statement.html",
        invitation=invitation,
        token=token,
        challenge=challenge,
        statement=html,
        lang=_lang(),
    )


@bp.get("/<token>/challenges/<slug>/starter")
@with_invitation
@started_only
def starter(invitation, token, slug):
    """The starter as a zip: the starter file, the self-check and its public slice."""
    challenge = _challenge_or_404(invitation, slug)
    data = candidates.self_check_slice(db(), invitation, challenge)
    db().commit()  # a split secret made now is kept: the dry runs draw the same rows
    return send_file(
        BytesIO(starter_bundle(challenge, data)),
        as_attachment=True,
        download_name=f"{slug}-starter.zip",
        mimetype="application/zip",
    )


@bp.post("/<token>/challenges/<slug>/upload")
@with_invitation
@started_only
def upload(invitation, token, slug):
    _challenge_or_404(invitation, slug)
    form = UploadForm()
    if not form.validate_on_submit():
        flash(_("Choose a file to upload."), "error")
        return redirect(url_for("candidate.work", token=token))
    data = form.file.data.read()
    try:
        submission = candidates.submit_code(
            db(),
            invitation,
            slug,
            form.file.data.filename or "",
            data,
            grace_seconds=current_app.config["UPLOAD_GRACE_SECONDS"],
        )
    except candidates.CandidateError as exc:
        db().rollback()
        flash(_message(exc), "error")
        return redirect(url_for("candidate.work", token=token))
    db().commit()
    return redirect(url_for("candidate.submission", token=token, submission_id=submission.id))


def _message(exc: candidates.CandidateError) -> str:
    """The catalogue's plain words in the page's language where it knows the code."""
    fixed = {
        "time_over": _("Your time for this assessment is over; nothing more is accepted."),
        "no_attempts": _("You have used every attempt for this challenge."),
        "unknown_challenge": _("This assessment has no such challenge."),
        "unknown_question": _("This assessment has no such question."),
        "unknown_option": _("This concept check has no such option."),
        "deadline_passed": _(
            "The deadline of this assessment has passed: it can no longer be started."
        ),
        "answer_final": _(
            "You submitted this answer: it is final, and its concept checks are open."
        ),
        "empty_answer": _(
            "Write your answer before you submit it (a line saying what you do not know "
            "is an answer too)."
        ),
        "answer_not_submitted": _(
            "Submit your written answer to this question first: its concept checks open then."
        ),
        "checks_final": _("You submitted the concept checks of this question: they are final."),
        "answers_final": _(
            "Your answers are final: you submitted every one, and this assessment now shows "
            "you the explanations."
        ),
    }
    if exc.code in fixed:
        return fixed[exc.code]
    # The catalogue's words and what to fix (the line of a syntax error, the size limit).
    return explain(exc.code, str(exc), _lang())


def _submission_or_404(invitation, submission_id):
    return candidates.get_submission(db(), invitation, submission_id) or abort(404)


@bp.get("/<token>/submissions/<int:submission_id>")
@with_invitation(expired_ok=True)
@started_only
def submission(invitation, token, submission_id):
    found = _submission_or_404(invitation, submission_id)
    return render_template(
        "candidate/submission.html",
        invitation=invitation,
        token=token,
        submission=found,
        **_progress_context(invitation, found),
    )


@bp.get("/<token>/submissions/<int:submission_id>/progress")
@with_invitation(expired_ok=True)
@started_only
def progress(invitation, token, submission_id):
    found = _submission_or_404(invitation, submission_id)
    return render_template(
        "candidate/_progress.html",
        invitation=invitation,
        token=token,
        submission=found,
        **_progress_context(invitation, found),
    )


def _progress_context(invitation, submission) -> dict:
    state = submission_status.progress(db(), submission)
    explanation = ""
    if state.error_code:
        # The catalogue's words and what to fix (the shapes, the line, the limit hit).
        explanation = explain(state.error_code, state.error_message, _lang())
    return {
        "state": state,
        "explanation": explanation,
        "show_scores": invitation.assessment.show_scores_to_candidate,
        "step_labels": {name: labels[_lang() == "zh"] for name, labels in STEP_LABELS.items()},
        "graded_after_end": submission_status.graded_after_the_end(invitation, submission, state),
        "now": utcnow(),
    }


@bp.post("/<token>/theory/<question_id>")
@with_invitation
@started_only
def save_answer(invitation, token, question_id):
    form = AnswerForm()
    submit = request.form.get("final") == "1"
    if not form.validate_on_submit():
        return render_template(
            "candidate/_saved.html", error=_("Not saved: the answer is too long.")
        ), 400
    try:
        answer = candidates.save_answer(
            db(), invitation, question_id, form.text.data or "", submit=submit
        )
    except candidates.CandidateError as exc:
        db().rollback()
        return render_template("candidate/_saved.html", error=_message(exc)), 409
    db().commit()
    if request.headers.get("HX-Request"):
        return render_template("candidate/_saved.html", answer=answer)
    if submit and load_bank().get(question_id).checks:
        flash(_("Answer submitted. Its concept checks are open below it."), "ok")
        return redirect(url_for("candidate.work", token=token) + f"#checks-{question_id}")
    flash(_("Answer submitted.") if submit else _("Draft saved."), "ok")
    return redirect(url_for("candidate.work", token=token) + f"#q-{question_id}")


@bp.post("/<token>/theory/<question_id>/checks")
@with_invitation
@started_only
def save_checks(invitation, token, question_id):
    """Store the options picked in one question's concept checks (htmx on each pick), or
    submit them (``final=1``). Refused with 409, nothing stored, before the question's
    written answer is submitted (``concept_checks.save``)."""
    htmx = bool(request.headers.get("HX-Request"))
    submit = request.form.get("final") == "1"
    if not ChecksForm().validate_on_submit():
        return render_template(
            "candidate/_checks_saved.html", error=_("Not saved: reload the page and try again.")
        ), 400
    positions = {
        key.removeprefix("check-"): value
        for key, value in request.form.items()
        if key.startswith("check-")
    }
    try:
        concept_checks.save(db(), invitation, question_id, positions, submit=submit)
    except candidates.CandidateError as exc:
        db().rollback()
        if htmx:
            return render_template("candidate/_checks_saved.html", error=_message(exc)), 409
        # Without script too: the work page with the reason on top, as a 409 (nothing stored).
        flash(_message(exc), "error")
        return work.__wrapped__(invitation, token), 409
    db().commit()
    if htmx and not submit:
        return render_template("candidate/_checks_saved.html", when=utcnow())
    if htmx:  # a submit the page sent by script: reload it, the checks now read as final
        response = current_app.response_class(status=204)
        response.headers["HX-Redirect"] = url_for("candidate.work", token=token)
        return response
    flash(
        _("Concept checks submitted: your choices are final.") if submit else _("Choices saved."),
        "ok",
    )
    return redirect(url_for("candidate.work", token=token) + f"#checks-{question_id}")


@bp.route("/<token>/finish", methods=["GET", "POST"])
@with_invitation
@started_only
def finish(invitation, token):
    """ "Finish": a page that lists what is not handed in yet and asks to confirm; on
    confirmation every draft is submitted and the time ends now."""
    from server.candidate.forms import FinishForm

    form = FinishForm()
    if not invitations.accepting(invitation, utcnow()):
        return redirect(url_for("candidate.work", token=token))
    if form.validate_on_submit():
        try:
            candidates.finish(invitation)
        except candidates.CandidateError as exc:
            db().rollback()
            flash(_message(exc), "error")
        else:
            db().commit()
            flash(_("You finished the assessment. Your work is handed in."), "ok")
        return redirect(url_for("candidate.work", token=token))
    missing_questions, missing_challenges = candidates.unanswered(invitation)
    bank = load_bank()
    drafts = [a for a in invitation.answers if a.submitted_at is None and (a.text or "").strip()]
    return render_template(
        "candidate/finish.html",
        invitation=invitation,
        token=token,
        form=form,
        lang=_lang(),
        missing_questions=[bank.get(qid) for qid in missing_questions],
        missing_challenges=[get_challenge(slug) for slug in missing_challenges],
        drafts=len(drafts),
        checks_unsubmitted=concept_checks.unsubmitted(invitation),
    )


@bp.get("/<token>/explanations")
@with_invitation
@started_only
def explanations(invitation, token):
    """The explanations of this assessment's questions only, once the candidate has submitted.

    Only the questions the assessment asked: the bank holds others that a recruiter may ask
    this candidate, or the next one, in another assessment, and a candidate's link opens
    nothing beyond their own assessment. When the page is closed it says why and when it
    opens (``candidates.explanations_state``), with 403.
    """
    if invitations.submit_drafts_by_clock(invitation):
        db().commit()  # the time ran out on drafts: handed in first, as on the work page
    state = candidates.explanations_state(invitation)
    if state != "open":
        return render_template(
            "candidate/explanations_closed.html",
            invitation=invitation,
            token=token,
            state=state,
            ends_at=invitations.time_ends_at(invitation),
        ), 403
    bank = load_bank()
    return render_template(
        "candidate/explanations.html",
        invitation=invitation,
        token=token,
        questions=[bank.get(qid) for qid in invitation.assessment.theory_question_ids],
        answers=candidates.answers_by_question(invitation),
        checks={
            qid: concept_checks.shown(invitation, bank.get(qid))
            for qid in invitation.assessment.theory_question_ids
        },
        lang=_lang(),
    )
