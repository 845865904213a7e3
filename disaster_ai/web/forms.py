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
