"""The privacy room's console forms (Flask-WTF: each carries a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from domain.data_requests import KINDS
from domain.privacy_settings import LEGAL_MAX_DUE_DAYS


class CloseRequestForm(FlaskForm):
    status = SelectField(
        "Outcome",
        choices=[
            SelectChoice("done", "Done"),
            SelectChoice("rejected", "Rejected"),
            SelectChoice("cancelled", "Cancelled"),
        ],
    )
    note = StringField(
        "What was done, or why not", validators=[DataRequired(message="Say what happened."), Length(max=500)]
    )


class NewRequestForm(FlaskForm):
    """A request made outside the chat (on the phone, at the counter), entered by staff."""

    kind = SelectField("Request", choices=[SelectChoice(k, k.title()) for k in KINDS])
    note = StringField("Note (no personal data)", validators=[Optional(), Length(max=200)])


class MarketingConsentForm(FlaskForm):
    granted = SelectField(
        "Marketing messages", choices=[SelectChoice("yes", "Consent given"), SelectChoice("no", "Consent withdrawn")]
    )
    parent = BooleanField("A parent consented for a member under 18 (I checked who they are)")


class NoticeForm(FlaskForm):
    """One text area per language; the field names are ``body_<language>`` (see ``notice_form``)."""

    reason = StringField("What changed", validators=[DataRequired(message="Say what changed."), Length(max=200)])


def notice_form(languages: tuple[str, ...], texts: dict[str, str], formdata: object = None) -> NoticeForm:
    """A NoticeForm with a text area per language: a new catalog adds a language here too."""

    class _Form(NoticeForm):
        pass

    for language in languages:
        field = TextAreaField(f"Text ({language})", validators=[DataRequired(), Length(max=20000)])
        setattr(_Form, f"body_{language}", field)
    data = {f"body_{language}": texts.get(language, "") for language in languages}
    if formdata is None:
        return _Form(formdata=None, data=data)
    return _Form()


class PrivacySettingsForm(FlaskForm):
    request_due_days = IntegerField(
        "Days to answer a request", validators=[InputRequired(), NumberRange(min=1, max=LEGAL_MAX_DUE_DAYS)]
    )
    erasure_cooling_off_hours = IntegerField(
        "Erasure cooling-off (hours, 0 = at once)", validators=[InputRequired(), NumberRange(min=0, max=720)]
    )
    inactive_years = IntegerField(
        "Erase members inactive for (years, 0 = never)", validators=[InputRequired(), NumberRange(min=0, max=50)]
    )
    retention_warning_hours = IntegerField(
        "Warn them this many hours ahead", validators=[InputRequired(), NumberRange(min=1, max=720)]
    )
    message_retention_days = IntegerField(
        "Delete message texts after (days)", validators=[InputRequired(), NumberRange(min=1, max=3650)]
    )
    access_log_days = IntegerField(
        "Keep the access log (days)", validators=[InputRequired(), NumberRange(min=1, max=3650)]
    )
    export_link_hours = IntegerField(
        "Export links work for (hours)", validators=[InputRequired(), NumberRange(min=1, max=168)]
    )
    reason = StringField("Reason", validators=[Optional(), Length(max=200)])
