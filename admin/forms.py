"""Every console form (Flask-WTF: each one carries a CSRF token)."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    EmailField,
    Field,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    StopValidation,
)
from wtforms.widgets import CheckboxInput, ListWidget

from domain.api_keys import SCOPES
from domain.limits import DATE_RANGE, FIRST_DAY, LAST_DAY
from domain.users import ROLES


def DateRange() -> Callable[[FlaskForm, Field], None]:
    """A date a report can cover (``FIRST_DAY``..``LAST_DAY``): 9999-12-31 has no next day."""

    def check(_form: FlaskForm, field: Field) -> None:
        if field.data is not None and not FIRST_DAY <= field.data <= LAST_DAY:
            raise StopValidation(DATE_RANGE)

    return check


# WTForms' Email() needs the email_validator package; this is all sign-in needs.
EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="Enter an email address.")


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), EMAIL, Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class ActionForm(FlaskForm):
    """A button that needs nothing but a CSRF token."""


class ReasonForm(FlaskForm):
    reason = StringField("Reason", validators=[Optional(), Length(max=200)])


class RequiredReasonForm(FlaskForm):
    reason = StringField("Reason", validators=[DataRequired(message="Say why."), Length(max=200)])


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


class AdjustForm(FlaskForm):
    """A manual adjustment; the nonce makes a double-submitted form adjust once."""

    points = IntegerField(
        "Points (+ to add, − to remove)",
        validators=[
            InputRequired(message="Enter a whole number of points."),
            NumberRange(min=-1_000_000, max=1_000_000),
        ],
    )
    reason = StringField("Reason", validators=[DataRequired(message="A reason is required."), Length(max=200)])
    nonce = HiddenField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_-]{8,64}$")])

    def validate_points(self, field: IntegerField) -> None:
        from wtforms.validators import ValidationError

        if field.data == 0:
            raise ValidationError("An adjustment must change the balance.")


class RewardForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    points_cost = IntegerField("Points cost", validators=[InputRequired(), NumberRange(min=1, max=10_000_000)])
    stock = IntegerField("Stock (empty = unlimited)", validators=[Optional(), NumberRange(min=0, max=10_000_000)])
    per_customer_limit = IntegerField(
        "Limit per customer (empty = none)", validators=[Optional(), NumberRange(min=1, max=1000)]
    )
    starts_on = DateField("Available from", validators=[Optional()])
    ends_on = DateField("Available until (exclusive)", validators=[Optional()])
    active = BooleanField("Active", default=True)


class TermsForm(FlaskForm):
    commission_type = SelectField(
        "Commission type", choices=[SelectChoice("percent", "Percent of net"), SelectChoice("fixed", "Fixed")]
    )
    percent = DecimalField("Percent", places=2, validators=[InputRequired(), NumberRange(min=0, max=100)])
    fixed = DecimalField(
        "Fixed amount per first purchase", places=2, validators=[InputRequired(), NumberRange(min=0, max=10_000_000)]
    )
    window_days = IntegerField("Attribution window (days)", validators=[InputRequired(), NumberRange(min=1, max=3650)])
    reason = StringField("Reason", validators=[Optional(), Length(max=200)])


class PayoutForm(FlaskForm):
    reference = StringField("Payment reference", validators=[DataRequired(), Length(max=120)])


class RulesForm(FlaskForm):
    points_per_unit = IntegerField("Points", validators=[InputRequired(), NumberRange(min=0, max=10_000)])
    spend_unit = DecimalField("per spend of", places=2, validators=[InputRequired(), NumberRange(min=0.01)])
    gold = DecimalField("Gold from (12-month spend)", places=2, validators=[InputRequired(), NumberRange(min=0)])
    platinum = DecimalField("Platinum from", places=2, validators=[InputRequired(), NumberRange(min=0)])
    expiry_months = IntegerField("Points expire after (months)", validators=[InputRequired(), NumberRange(1, 120)])
    expiry_warning_days = IntegerField(
        "Chat: expiring points within (days)", validators=[InputRequired(), NumberRange(0, 365)]
    )
    referrer_bonus = IntegerField("Referrer bonus (points)", validators=[InputRequired(), NumberRange(0, 1_000_000)])
    referee_bonus = IntegerField("New friend bonus (points)", validators=[InputRequired(), NumberRange(0, 1_000_000)])
    referral_min_purchase = DecimalField("Referral minimum purchase", places=2, validators=[InputRequired()])
    voucher_valid_days = IntegerField("Vouchers valid (days)", validators=[InputRequired(), NumberRange(1, 3650)])
    point_value = DecimalField("Value of one point", places=4, validators=[InputRequired(), NumberRange(min=0)])
    tpl_points_earned = StringField("Template: points earned", validators=[DataRequired(), Length(max=100)])
    tpl_tier_changed = StringField("Template: tier changed", validators=[DataRequired(), Length(max=100)])
    tpl_points_expiring = StringField("Template: points expiring", validators=[DataRequired(), Length(max=100)])
    tpl_voucher_issued = StringField("Template: voucher issued", validators=[DataRequired(), Length(max=100)])
    # Authentication category: its body is the 6-digit code of a points payment at a till (blank keeps it).
    tpl_points_payment_code = StringField("Template: points payment code", validators=[Optional(), Length(max=100)])
    tpl_link_code = StringField("Template: code to link a WhatsApp chat", validators=[Optional(), Length(max=100)])
    reason = StringField("Reason for the change", validators=[DataRequired(), Length(max=200)])


class CampaignForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    starts_on = DateField("Starts on", validators=[InputRequired()])
    ends_on = DateField("Ends on (inclusive)", validators=[InputRequired()])
    multiplier = DecimalField("Multiplier", places=3, default=1, validators=[InputRequired(), NumberRange(0, 100)])
    bonus_points = IntegerField(
        "Bonus points per order", default=0, validators=[InputRequired(), NumberRange(0, 1_000_000)]
    )
    category = StringField("Only category (empty = all)", validators=[Optional(), Length(max=120)])
    min_amount = IntegerField(
        "Minimum order amount", default=0, validators=[InputRequired(), NumberRange(0, 100_000_000)]
    )


class StaffForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), EMAIL, Length(max=254)])
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=[SelectChoice(r) for r in ROLES])
    password = PasswordField("Password (10+ characters)", validators=[DataRequired(), Length(min=10, max=200)])


class StaffEditForm(FlaskForm):
    role = SelectField("Role", choices=[SelectChoice(r) for r in ROLES])
    active = BooleanField("Active")
    password = PasswordField("New password (empty = unchanged)", validators=[Optional(), Length(max=200)])


class PasswordForm(FlaskForm):
    """Change one's own password; the account's other sessions end."""

    current = PasswordField("Current password", validators=[DataRequired(), Length(max=200)])
    new = PasswordField("New password (10+ characters, not a common one)", validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(
        "New password again", validators=[DataRequired(), EqualTo("new", message="The two new passwords differ.")]
    )


class ReplyForm(FlaskForm):
    text = TextAreaField("Reply", validators=[DataRequired(), Length(max=4000)])


class SimulatorForm(FlaskForm):
    phone = StringField("Test phone number", validators=[DataRequired(), Length(max=32)])
    text = StringField("Message", validators=[DataRequired(), Length(max=1000)])


class ReportForm(FlaskForm):
    class Meta:
        csrf = False  # a GET download; it changes nothing

    kind = SelectField(
        "Report",
        choices=[
            SelectChoice("members", "Members"),
            SelectChoice("ledger", "Ledger entries"),
            SelectChoice("redemptions", "Redemptions"),
            SelectChoice("commissions", "Commissions"),
        ],
    )
    start = DateField("From", validators=[Optional(), DateRange()])
    end = DateField("To (inclusive)", validators=[Optional(), DateRange()])

    def validate_end(self, field: DateField) -> None:
        if field.data and self.start.data and field.data < self.start.data:
            raise StopValidation("The end date is before the start date.")


class ApiKeyForm(FlaskForm):
    """A new integration API key: its name, scopes and (optionally) its own rate limit."""

    name = StringField(
        "Name (the till or system using it)",
        validators=[
            DataRequired(),
            Length(max=80),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$", message="Letters, digits, . _ : @ -"),
        ],
    )
    scopes = SelectMultipleField(
        "Scopes",
        choices=[SelectChoice(scope) for scope in SCOPES],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[DataRequired(message="Choose at least one scope.")],
    )
    rate = StringField(
        "Own rate limit (e.g. 100/minute; empty for the default)", validators=[Optional(), Length(max=32)]
    )
