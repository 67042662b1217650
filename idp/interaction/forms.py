"""Forms of the interaction pages. Every form carries a CSRF token (Flask-WTF).

Validator messages are given explicitly: WTForms ships no Vietnamese catalogue.
"""

from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, Form, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

# Longest address RFC 5321 allows; longest password we bother hashing (the policy's maximum
# is lower; this only bounds the work an anonymous request can cause).
EMAIL_MAX_LENGTH = 320
PASSWORD_MAX_LENGTH = 1024


def has_control_characters(value: str) -> bool:
    """True for NUL, line breaks and other control or unassigned characters."""
    return any(unicodedata.category(c) in ("Cc", "Cs", "Cn") for c in value)


def no_control_characters(form: Form, field: Field) -> None:
    if field.data and has_control_characters(field.data):
        raise ValidationError(_l("Địa chỉ thư điện tử không hợp lệ."))


class PageForm(FlaskForm):
    """A form people fill in: read from the text fields of a form body only.

    Flask-WTF would otherwise build the form from a JSON body (a JSON array or number there
    raises deep inside WTForms) and from the file parts of a multipart body (a FileStorage
    in a text field has no len(): Length raised TypeError). Pages are posted by browsers as
    forms without files: a field sent as JSON or as a file is a missing field.
    """

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            from flask import request

            wrapped = super().wrap_formdata(form, formdata)
            if wrapped is None or wrapped is request.form:
                return wrapped
            return request.form or None


class LoginForm(PageForm):
    email = StringField(
        _l("Địa chỉ thư điện tử"),
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[
            DataRequired(message=_l("Vui lòng nhập địa chỉ thư điện tử.")),
            Length(max=EMAIL_MAX_LENGTH, message=_l("Địa chỉ thư điện tử quá dài.")),
            no_control_characters,
        ],
    )
    password = PasswordField(
        _l("Mật khẩu"),
        validators=[
            DataRequired(message=_l("Vui lòng nhập mật khẩu.")),
            Length(max=PASSWORD_MAX_LENGTH, message=_l("Mật khẩu quá dài.")),
        ],
    )
    remember = BooleanField(_l("Duy trì đăng nhập trên thiết bị này"))
    next = HiddenField()


class LogoutForm(PageForm):
    pass
