"""Forms of the interaction pages. Every form carries a CSRF token (Flask-WTF).

Validator messages are given explicitly: WTForms ships no Vietnamese catalogue.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from idp.pages import PageForm, no_control_characters

# Longest address RFC 5321 allows; longest password we bother hashing (the policy's maximum
# is lower; this only bounds the work an anonymous request can cause).
EMAIL_MAX_LENGTH = 320
PASSWORD_MAX_LENGTH = 1024


def _email_field() -> StringField:
    """The typed address of the sign-in and "Quên mật khẩu?" forms."""
    return StringField(
        _l("Địa chỉ thư điện tử"),
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[
            DataRequired(message=_l("Vui lòng nhập địa chỉ thư điện tử.")),
            Length(max=EMAIL_MAX_LENGTH, message=_l("Địa chỉ thư điện tử quá dài.")),
            no_control_characters,
        ],
    )


class LoginForm(PageForm):
    email = _email_field()
    password = PasswordField(
        _l("Mật khẩu"),
        validators=[
            DataRequired(message=_l("Vui lòng nhập mật khẩu.")),
            Length(max=PASSWORD_MAX_LENGTH, message=_l("Mật khẩu quá dài.")),
        ],
    )
    remember = BooleanField(_l("Duy trì đăng nhập trên thiết bị này"))
    next = HiddenField()
    # "1" when the relying party requires a second factor: one is enrolled before the session.
    enrol = HiddenField()


class ForgotPasswordForm(PageForm):
    email = _email_field()


def _new_password_fields():
    password = PasswordField(
        _l("Mật khẩu mới"),
        validators=[
            DataRequired(message=_l("Vui lòng nhập mật khẩu mới.")),
            Length(max=PASSWORD_MAX_LENGTH, message=_l("Mật khẩu quá dài.")),
        ],
    )
    confirm = PasswordField(
        _l("Nhập lại mật khẩu mới"),
        validators=[
            DataRequired(message=_l("Vui lòng nhập lại mật khẩu mới.")),
            EqualTo("password", message=_l("Hai lần nhập mật khẩu mới không khớp nhau.")),
        ],
    )
    return password, confirm


class NewPasswordForm(PageForm):
    """Activation, reset by link, and the change forced after an administrator's reset."""

    password, confirm = _new_password_fields()


class ChangePasswordForm(PageForm):
    """The account page's change of password: the current one first."""

    current = PasswordField(
        _l("Mật khẩu hiện tại"),
        validators=[
            DataRequired(message=_l("Vui lòng nhập mật khẩu hiện tại.")),
            Length(max=PASSWORD_MAX_LENGTH, message=_l("Mật khẩu quá dài.")),
        ],
    )
    password, confirm = _new_password_fields()
