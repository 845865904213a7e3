"""Server-side forms (Flask-WTF: CSRF on every form). Messages go through the i18n layer."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

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
