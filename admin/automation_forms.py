"""The form of one lifecycle automation (``/admin/automations/<kind>``)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from domain.limits import MAX_ADJUSTMENT

LANGUAGE_CHOICES = [
    SelectChoice("member", "Each member's language"),
    SelectChoice("en", "English"),
    SelectChoice("hi", "Hindi"),
]


class AutomationForm(FlaskForm):
    enabled = BooleanField("On")
    template_name = StringField("Approved template name", validators=[Optional(), Length(max=512)])
    template_language = SelectField("Template language", choices=LANGUAGE_CHOICES)
    template_parameters = TextAreaField(
        "Parameters {{1}}, {{2}} ..., one per line", validators=[Optional(), Length(max=3000)]
    )
    days = StringField("Days", validators=[Optional(), Length(max=100)])
    bonus_points = IntegerField(
        "Bonus points",
        validators=[
            Optional(),
            NumberRange(0, MAX_ADJUSTMENT, message=f"Bonus points must be 0 to {MAX_ADJUSTMENT:,}."),
        ],
    )
    send_hour = IntegerField(
        "From this hour (local time, 0–23)",
        validators=[
            InputRequired(message="Give the hour, 0 to 23."),
            NumberRange(0, 23, message="The hour must be 0 to 23."),
        ],
    )
    reason = StringField("Reason for the change", validators=[Optional(), Length(max=200)])
