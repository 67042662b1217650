"""Helpers the page packages share, none of them a view: the base form of every page, the
sign-out form, and the check that keeps redirects on this site.

Validator messages are given explicitly: WTForms ships no Vietnamese catalogue.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from flask import request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, Form
from wtforms.validators import ValidationError

# A local authorization URL with a request object can be long; anything longer is not ours.
NEXT_MAX_LENGTH = 4096


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
            if request.is_json or request.files:
                # Flask-WTF would read the JSON body or add the file parts: text fields only.
                return request.form or None
            return super().wrap_formdata(form, formdata)


class LogoutForm(PageForm):
    pass


def is_local_path(target: str | None) -> bool:
    """True for a path on this site ("/account/?x=1"), never for another origin.

    Browsers read "//host", "/\\host" and "/<TAB>/host" as another host, and ignore
    leading spaces, so all of these are refused along with any scheme.
    """
    if not target or len(target) > NEXT_MAX_LENGTH:
        return False
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if has_control_characters(target) or any(c.isspace() for c in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None) -> str:
    """Only local paths are followed after sign-in: never an open redirect."""
    return target if target and is_local_path(target) else url_for("account.index")
