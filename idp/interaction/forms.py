from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = StringField(
        _l("Địa chỉ thư điện tử"),
        validators=[DataRequired(message=_l("Vui lòng nhập địa chỉ thư điện tử.")), Length(max=320)],
    )
    password = PasswordField(
        _l("Mật khẩu"),
        validators=[DataRequired(message=_l("Vui lòng nhập mật khẩu.")), Length(max=1024)],
    )
    remember = BooleanField(_l("Duy trì đăng nhập trên thiết bị này"))
    next = HiddenField()


class LogoutForm(FlaskForm):
    pass
