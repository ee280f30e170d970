"""The WhatsApp campaign forms: the campaign with its segment builder, the test send, the settings.

A form turns what staff typed into the domain's values (``Segment``, template parameters, a
send time in UTC); the domain checks the rules again, and a refusal there is shown as a flash.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
    FieldList,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from admin.forms import DateRange
from domain.campaign_models import CATEGORIES
from domain.campaign_settings import LOCAL_TZ, MAX_RATE, quiet_window
from domain.customers import LANGUAGES
from domain.errors import ValidationError as DomainValidationError
from domain.limits import DATE_RANGE, FIRST_DAY, LAST_DAY
from domain.rules import TIER_ORDER
from domain.segments import Segment
from domain.template_fields import FIELDS

MAX_PARAMETERS = 10
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FIELD_LABELS = {
    "name": "Member's name",
    "points": "Points balance",
    "tier": "Tier",
    "expiring_points": "Points expiring soon",
    "expiry_date": "Their expiry date",
    "referral_code": "Referral code",
}
LANGUAGE_CHOICES = [
    SelectChoice("member", "Each member's own language"),
    SelectChoice("en", "English (en)"),
    SelectChoice("hi", "Hindi (hi)"),
]


def checkboxes(label: str, choices: list[SelectChoice]) -> SelectMultipleField:
    return SelectMultipleField(
        label, choices=choices, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput()
    )


class ParameterForm(FlaskForm):
    """One ``{{n}}``: a field of the member, or literal text."""

    class Meta:
        csrf = False  # a part of the campaign form, which carries the token

    source = SelectField(
        "Value",
        choices=[
            SelectChoice("", "—"),
            *[SelectChoice(f, FIELD_LABELS[f]) for f in FIELDS],
            SelectChoice("text", "Text"),
        ],
        validators=[Optional()],
    )
    text = StringField("Text", validators=[Optional(), Length(max=1024)])


class SegmentFields(FlaskForm):
    """The segment builder; also read on its own (no CSRF) by the live count."""

    tiers = checkboxes("Tier", [SelectChoice(t, t.title()) for t in TIER_ORDER])
    min_points = IntegerField("Points at least", validators=[Optional(), NumberRange(0, 1_000_000_000)])
    max_points = IntegerField("Points at most", validators=[Optional(), NumberRange(0, 1_000_000_000)])
    expiring_within_days = IntegerField("Points expiring within (days)", validators=[Optional(), NumberRange(1, 3650)])
    last_purchase_before = DateField("Last purchase before", validators=[Optional(), DateRange()])
    last_purchase_after = DateField("Bought since", validators=[Optional(), DateRange()])
    spend_min = DecimalField("Spent at least", places=2, validators=[Optional(), NumberRange(min=0, max=10**10)])
    spend_max = DecimalField("Spent at most", places=2, validators=[Optional(), NumberRange(min=0, max=10**10)])
    spend_days = IntegerField("in the last (days)", default=365, validators=[Optional(), NumberRange(1, 3650)])
    stores = StringField("Bought at store(s), comma-separated", validators=[Optional(), Length(max=500)])
    languages = checkboxes(
        "Language", [SelectChoice(lang, {"en": "English", "hi": "Hindi"}[lang]) for lang in LANGUAGES]
    )
    affiliate_referred = SelectField(
        "Joined through an affiliate",
        choices=[SelectChoice("", "Either"), SelectChoice("yes", "Yes"), SelectChoice("no", "No")],
        validators=[Optional()],
    )
    birthday_months = checkboxes("Birthday in", [SelectChoice(str(i + 1), m) for i, m in enumerate(MONTHS)])

    def validate_max_points(self, field: IntegerField) -> None:
        if field.data is not None and self.min_points.data is not None and field.data < self.min_points.data:
            raise ValidationError("At most must not be below at least.")

    def validate_spend_max(self, field: DecimalField) -> None:
        if field.data is not None and self.spend_min.data is not None and field.data < self.spend_min.data:
            raise ValidationError("At most must not be below at least.")

    def validate_last_purchase_after(self, field: DateField) -> None:
        before = self.last_purchase_before.data
        if field.data is not None and before is not None and field.data >= before:
            raise ValidationError("Nobody bought since a day that is after their last purchase.")

    def segment(self) -> Segment:
        """The segment as the domain keeps it; dates are local (Asia/Kolkata) midnights."""
        data: dict[str, Any] = {
            "tiers": list(self.tiers.data or []),
            "min_points": self.min_points.data,
            "max_points": self.max_points.data,
            "expiring_within_days": self.expiring_within_days.data,
            "last_purchase_before": _local_midnight(self.last_purchase_before.data),
            "last_purchase_after": _local_midnight(self.last_purchase_after.data),
            "spend_min": _text(self.spend_min.data),
            "spend_max": _text(self.spend_max.data),
            "spend_days": self.spend_days.data,
            "stores": [s.strip() for s in (self.stores.data or "").split(",") if s.strip()],
            "languages": list(self.languages.data or []),
            "affiliate_referred": {"yes": True, "no": False}.get(self.affiliate_referred.data or ""),
            "birthday_months": [int(m) for m in self.birthday_months.data or []],
        }
        return Segment.from_json({k: v for k, v in data.items() if v not in (None, [])})


class AudienceForm(SegmentFields):
    class Meta:
        csrf = False  # the live count: a GET that changes nothing


def _local_midnight(day: dt.date | None) -> str | None:
    return None if day is None else dt.datetime.combine(day, dt.time(), tzinfo=LOCAL_TZ).isoformat()


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


class CampaignForm(SegmentFields):
    name = StringField("Campaign name", validators=[DataRequired(), Length(max=120)])
    template_name = StringField(
        "Approved template name",
        validators=[
            DataRequired(),
            Length(max=512),
            Regexp(r"^[a-z0-9_]+$", message="Template names are lower-case letters, digits and _."),
        ],
    )
    language = SelectField("Template language", choices=LANGUAGE_CHOICES)
    category = SelectField(
        "Category (what Meta charges)", choices=[SelectChoice(c, c.title()) for c in CATEGORIES], default="marketing"
    )
    parameters = FieldList(FormField(ParameterForm), min_entries=MAX_PARAMETERS, max_entries=MAX_PARAMETERS)
    when = RadioField(
        "Send",
        choices=[SelectChoice("now", "When I start it"), SelectChoice("later", "At a local time (Asia/Kolkata)")],
        default="now",
    )
    send_at = DateTimeLocalField("Local time", format="%Y-%m-%dT%H:%M", validators=[Optional()])

    def validate_send_at(self, field: DateTimeLocalField) -> None:
        if field.data is not None and not FIRST_DAY <= field.data.date() <= LAST_DAY:
            raise ValidationError(DATE_RANGE)

    ignore_quiet_hours = BooleanField("Send in quiet hours too (admins only)")

    def validate_parameters(self, field: FieldList) -> None:
        self.template_parameters()

    def template_parameters(self) -> list[str]:
        """``{{1}}``, ``{{2}}``...: a gap or an empty text is refused."""
        values: list[str | None] = []
        for n, entry in enumerate(self.parameters.entries, start=1):
            source, text = entry.form.source.data or "", (entry.form.text.data or "").strip()
            if source == "text" and not text:
                raise ValidationError(f"{{{{{n}}}}}: type the text, or choose a member's field.")
            values.append(text if source == "text" else (source or None))
        while values and values[-1] is None:
            values.pop()
        if None in values:
            gap = values.index(None) + 1
            raise ValidationError(f"{{{{{gap}}}}} is empty but a later parameter is set.")
        return [v for v in values if v is not None]

    def validate_when(self, field: RadioField) -> None:
        if field.data == "later" and self.send_at.data is None:
            raise ValidationError("Choose the local date and time to send.")

    def send_at_utc(self, now: dt.datetime) -> dt.datetime | None:
        if self.when.data != "later" or self.send_at.data is None:
            return None
        moment: dt.datetime = self.send_at.data.replace(tzinfo=LOCAL_TZ).astimezone(dt.UTC)
        if moment <= now:
            raise DomainValidationError("the send time is in the past; choose a later time or send when started")
        return moment


class TestSendForm(FlaskForm):
    phones = TextAreaField(
        "Staff phone numbers (up to 5, one a line or comma-separated)", validators=[DataRequired(), Length(max=300)]
    )
    nonce = HiddenField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_-]{8,64}$")])


def _quiet(_form: FlaskForm, field: StringField) -> None:
    try:
        quiet_window(field.data or "")
    except DomainValidationError as exc:
        raise ValidationError(exc.reason[0].upper() + exc.reason[1:] + ".") from None


class CampaignSettingsForm(FlaskForm):
    rate_per_second = IntegerField(
        f"Sending rate (messages per second, 1–{MAX_RATE})",
        validators=[InputRequired(message="Enter a whole number."), NumberRange(1, MAX_RATE)],
    )
    messaging_limit_24h = IntegerField(
        "Messaging limit: members per 24 hours (the number's tier)",
        validators=[InputRequired(message="Enter a whole number."), NumberRange(1, 10_000_000)],
    )
    marketing_cap_per_week = IntegerField(
        "Marketing messages per member per 7 days (0–50)",
        validators=[InputRequired(message="Enter a whole number."), NumberRange(0, 50)],
    )
    quiet_hours = StringField(
        "Quiet hours, local time (e.g. 21-9, or none)", validators=[DataRequired(), Length(max=10), _quiet]
    )
    price_marketing = DecimalField(
        "Price per marketing message (₹)", places=4, validators=[InputRequired(), NumberRange(min=0, max=1000)]
    )
    price_utility = DecimalField(
        "Price per utility message (₹)", places=4, validators=[InputRequired(), NumberRange(min=0, max=1000)]
    )
    reason = StringField("Reason for the change", validators=[DataRequired(message="Say why."), Length(max=200)])
