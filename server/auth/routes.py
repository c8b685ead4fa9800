from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from server.accounts import AccountError, authenticate, change_own_password
from server.auth import bp
from server.auth.forms import LoginForm, PasswordForm
from server.extensions import db, limiter


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(db(), form.email.data, form.password.data)
        if user is None:
            flash(_("Wrong email or password."), "error")
        else:
            login_user(user)
            target = request.args.get("next", "")
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("index")
            return redirect(target)
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    # Server-side: a copy of this cookie (or one on another device) stops working too.
    current_user.end_sessions()
    db().commit()
    logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            change_own_password(db(), current_user, form.current.data, form.new.data)
        except AccountError as exc:
            flash(str(exc), "error")
        else:
            db().commit()
            login_user(current_user._get_current_object())  # this browser, under the new version
            flash(_("Password changed. Every other session of yours has ended."), "ok")
            return redirect(url_for("index"))
    elif form.is_submitted():
        for errors in form.errors.values():
            for message in errors:
                flash(str(message), "error")
    return render_template("auth/password.html", form=form)


@bp.get("/home")
@login_required
def home():
    """The reviewer's home: their assessments and what awaits their review there."""
    from server.summary import awaiting

    rows = awaiting.awaiting_review(db(), current_user)
    db().commit()  # summaries made on the way (summary.store.ensure)
    return render_template("auth/home.html", rows=rows)
