"""The staff's API tokens and a recruiter's webhooks: HTML pages to make and revoke them
(the API itself is ``server.api``)."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from server import webhooks as hooks
from server.api import tokens as api_tokens
from server.extensions import db
from server.models import Webhook
from server.models.api import EVENTS, SCOPES
from server.review import bp
from server.review.lookups import STAFF
from server.security import role_required


@bp.route("/tokens", methods=["GET", "POST"])
@role_required(*STAFF)
def tokens():
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
    if not api_tokens.revoke(db(), current_user, token_id):
        abort(404)
    db().commit()
    flash(_("Token revoked."), "ok")
    return redirect(url_for("review.tokens"))


@bp.route("/webhooks", methods=["GET", "POST"])
@role_required("recruiter")
def webhooks():
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
    hook = db().get(Webhook, webhook_id)
    if hook is None or hook.owner_id != current_user.id:
        abort(404)
    hook.active = False  # kept: its deliveries' log stays readable
    db().commit()
    return redirect(url_for("review.webhooks"))
