from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from server import accounts
from server.admin import bp
from server.admin.forms import EditUserForm, NewUserForm
from server.extensions import db
from server.models import MailOutbox, User
from server.security import role_required


@bp.get("/users")
@role_required("admin")
def users():
    rows = db().scalars(sa.select(User).order_by(User.email)).all()
    return render_template("admin/users.html", users=rows, form=NewUserForm())


@bp.post("/users")
@role_required("admin")
def create_user():
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            accounts.create_user(
                db(), form.email.data, form.name.data, form.password.data, form.role.data
            )
        except accounts.AccountError as exc:
            flash(str(exc), "error")
        else:
            db().commit()
            flash(_("User created."), "ok")
            return redirect(url_for("admin.users"))
    else:
        flash(
            _("Check the form: every field is required, the password needs 10 characters."), "error"
        )
    rows = db().scalars(sa.select(User).order_by(User.email)).all()
    return render_template("admin/users.html", users=rows, form=form), 400


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required("admin")
def edit_user(user_id: int):
    user = db().get(User, user_id) or abort(404)
    form = EditUserForm(obj=user)
    if form.validate_on_submit():
        try:
            accounts.update_user(
                db(),
                user,
                acting=current_user,
                role=form.role.data,
                active=form.active.data,
                name=form.name.data,
            )
            if form.password.data:
                accounts.set_password(db(), user, form.password.data)
        except accounts.AccountError as exc:
            flash(str(exc), "error")
        else:
            db().commit()
            if user.id == current_user.id:
                login_user(user)  # an admin's own new password: this browser stays logged in
            flash(_("Saved."), "ok")
            return redirect(url_for("admin.users"))
    return render_template("admin/edit_user.html", user=user, form=form)


@bp.get("/outbox")
@role_required("admin")
def outbox():
    mails = db().scalars(sa.select(MailOutbox).order_by(MailOutbox.id.desc()).limit(200)).all()
    return render_template("admin/outbox.html", mails=mails)
