"""Server-side forms (Flask-WTF: CSRF on every form). Messages go through the i18n layer."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

REQUIRED = _l("This field is required.")


class LoginForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(REQUIRED), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), Length(max=256)])


class UserForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(REQUIRED), Length(max=64)])
    display_name = StringField(_l("Display name"), validators=[Length(max=128)])
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice("operator", _l("Operator")),
            SelectChoice("approver", _l("Approver")),
            SelectChoice("admin", _l("Administrator")),
        ],
    )
    password = PasswordField(
        _l("Initial password"), validators=[DataRequired(REQUIRED), Length(max=256)]
    )
    locale = SelectField(
        _l("Language"), choices=[SelectChoice("ja", "日本語"), SelectChoice("en", "English")]
    )


ROLE_CHOICES = [
    SelectChoice("operator", _l("Operator")),
    SelectChoice("approver", _l("Approver")),
    SelectChoice("admin", _l("Administrator")),
]


class UserEditForm(FlaskForm):
    """An admin changes a user's name on the desk, role and language."""

    display_name = StringField(_l("Display name"), validators=[Length(max=128)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    locale = SelectField(
        _l("Language"), choices=[SelectChoice("ja", "日本語"), SelectChoice("en", "English")]
    )


class UserActiveForm(FlaskForm):
    """Deactivate or reactivate a user: a button (and the CSRF token)."""


class PasswordResetForm(FlaskForm):
    """An admin sets a new password for a user (who is logged out everywhere)."""

    password = PasswordField(
        _l("New password"), validators=[DataRequired(REQUIRED), Length(max=256)]
    )
    confirm = PasswordField(
        _l("New password again"), validators=[DataRequired(REQUIRED), Length(max=256)]
    )


# --- disaster events (災害): opened on the bulletins' page and on the reports' page ------------

NO_HAZARD = _l("None (shelters only open or closed)")


def hazard_choices() -> list[SelectChoice]:
    """The hazards of the one registry (``disaster_ai.hazards``), plugins' too, labelled in
    the request's language."""
    from disaster_ai import hazards

    return [SelectChoice("", NO_HAZARD)] + [
        SelectChoice(code, hazards.label(code)) for code in hazards.codes()
    ]


class EventForm(FlaskForm):
    name = StringField(
        _l("Event name"),
        validators=[DataRequired(REQUIRED), Length(max=128)],
        render_kw={"placeholder": "令和8年台風第10号"},
    )
    hazard = SelectField(
        _l("Hazard for shelters and exposure"),
        choices=hazard_choices,
        validators=[Optional()],
    )
    exercise = BooleanField(_l("Exercise (marks every bulletin 【訓練】)"))
