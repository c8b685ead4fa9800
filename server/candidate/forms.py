from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SubmitField, TextAreaField
from wtforms.validators import Length

from graders.submissions import MAX_SIZE_TEXT


class StartForm(FlaskForm):
    submit = SubmitField(_l("Start the assessment"))


class UploadForm(FlaskForm):
    file = FileField(
        _l("Your solution (.py or .ipynb, up to %(limit)s)", limit=MAX_SIZE_TEXT),
        validators=[FileRequired()],
    )
    submit = SubmitField(_l("Upload and grade"))


class AnswerForm(FlaskForm):
    text = TextAreaField(_l("Your answer"), validators=[Length(max=20000)])
    submit = SubmitField(_l("Submit answer"))


class ChecksForm(FlaskForm):
    """The concept checks of one question: the radio buttons are read by the view."""

    submit = SubmitField(_l("Save choices"))


class FinishForm(FlaskForm):
    submit = SubmitField(_l("Finish now and hand everything in"))
