from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from server.labels import ROLES as ROLE_LABELS
from server.models import ROLES

ROLE_CHOICES = [(role, ROLE_LABELS[role]) for role in ROLES]


class NewUserForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=10, max=1000)])
    submit = SubmitField(_l("Create user"))


class EditUserForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    active = BooleanField(_l("Active"))
    password = PasswordField(
        _l("New password (optional)"), validators=[Optional(), Length(min=10, max=1000)]
    )
    submit = SubmitField(_l("Save"))
