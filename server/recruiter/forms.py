from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    DecimalField,
    EmailField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    widgets,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from server.models import utcnow


def in_the_future(form, field) -> None:
    """A deadline already past would let nobody start: refused with the field's error."""
    if field.data is not None and field.data <= utcnow():
        raise ValidationError(_l("The deadline has already passed; choose a later one."))


class MultiCheckbox(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class AssessmentForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    # No DataRequired: it would mark every checkbox "required" in the page (then all must be
    # ticked); the service refuses an assessment without a challenge.
    challenges = MultiCheckbox(_l("Challenges"))
    theory = MultiCheckbox(_l("Theory questions"))
    time_limit_minutes = IntegerField(
        _l("Time limit (minutes)"), default=120, validators=[NumberRange(1, 10080)]
    )
    deadline = DateTimeLocalField(
        _l("Deadline (UTC, optional)"), validators=[Optional(), in_the_future]
    )
    attempt_limit = IntegerField(
        _l("Attempts per challenge"), default=3, validators=[NumberRange(1, 50)]
    )
    dataset_tier = SelectField(
        _l("Dataset tier"),
        choices=[SelectChoice("sample", _l("sample")), SelectChoice("full", _l("full"))],
    )
    show_scores_to_candidate = BooleanField(_l("Candidates see their scores"))
    blind_review = BooleanField(_l("Blind review by default"), default=True)
    show_explanations_to_candidate = BooleanField(
        _l("Candidates may read the theory explanations after they submit")
    )
    submit = SubmitField(_l("Create assessment"))


class InviteForm(FlaskForm):
    name = StringField(_l("Candidate name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Candidate email"), validators=[DataRequired(), Length(max=254)])
    #: Ticked on the warning's second form: invite an email that already has a live link.
    again = BooleanField(_l("Invite again anyway"))
    submit = SubmitField(_l("Invite"))


class CsvForm(FlaskForm):
    file = FileField(_l("CSV file (name,email)"), validators=[FileRequired()])
    submit = SubmitField(_l("Invite all"))


class ExtendForm(FlaskForm):
    days = IntegerField(_l("Days"), default=7, validators=[NumberRange(1, 90)])
    submit = SubmitField(_l("Extend"))


class ExtraTimeForm(FlaskForm):
    factor = DecimalField(_l("Time factor"), default=1.0, places=2, validators=[NumberRange(1, 4)])
    submit = SubmitField(_l("Set"))


class ActionForm(FlaskForm):
    """A button-only form (revoke, resend): CSRF is all it carries."""

    submit = SubmitField(_l("OK"))
