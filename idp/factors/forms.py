"""The form of a second-factor code: the sign-in's second step and the enrolment's
confirmation (every form carries a CSRF token, Flask-WTF)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from idp.pages import PageForm, no_control_characters

# A TOTP code has 6 digits, a recovery code 10 letters and digits (with a dash and spaces).
CODE_MAX_LENGTH = 32


class FactorForm(PageForm):
    """The second step of signing in (and the enrolment's confirmation): a code."""

    code = StringField(
        _l("Mã xác thực"),
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[
            DataRequired(message=_l("Vui lòng nhập mã xác thực.")),
            Length(max=CODE_MAX_LENGTH, message=_l("Mã xác thực không đúng.")),
            no_control_characters,
        ],
    )
