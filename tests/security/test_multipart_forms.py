"""File parts of a multipart body are never form values (issue 8 review, F6).

The attack: `curl -F csrf_token=$T -F email=@/etc/hostname -F password=x /login` answered
500: Flask-WTF builds a page form from request.files and request.form together, so the
email field held a FileStorage and WTForms' Length validator raised TypeError (no len()).
Every page form (PageForm: sign-in, sign-out, consent, the account page's forms, the
logout confirmation) now reads the form's text fields only; a field sent as a file is a
missing field, answered like any incomplete form, never with a 500.
"""

from __future__ import annotations

import io

import pytest
from helpers.pages import csrf_of
from helpers.people import EMAIL, PASSWORD


def _file(content: bytes = b"idp-host\n") -> tuple[io.BytesIO, str]:
    return (io.BytesIO(content), "hostname")


@pytest.mark.parametrize("as_file", ["email", "password", "csrf_token", "next", "remember"])
def test_a_sign_in_field_sent_as_a_file_is_a_missing_field(app, make_user, as_file):
    make_user(EMAIL, password=PASSWORD)
    http = app.test_client()
    fields = {"csrf_token": csrf_of(http, "/login"), "email": EMAIL, "password": PASSWORD}
    fields.update({"next": "/account/", "remember": "y"})
    fields[as_file] = _file()
    response = http.post("/login", data=fields, content_type="multipart/form-data")
    if as_file in ("next", "remember"):
        # Optional fields: the sign-in goes ahead without them.
        assert response.status_code == 302
        return
    assert response.status_code == 400
    assert 'lang="vi"' in response.get_data(as_text=True)


def test_a_file_part_beside_the_fields_is_ignored(app, make_user):
    make_user(EMAIL, password=PASSWORD)
    http = app.test_client()
    fields = {"csrf_token": csrf_of(http, "/login"), "email": EMAIL, "password": PASSWORD}
    response = http.post(
        "/login", data={**fields, "upload": _file()}, content_type="multipart/form-data"
    )
    assert response.status_code == 302


def test_signed_in_forms_take_no_file_parts(app, make_user):
    make_user(EMAIL, password=PASSWORD)
    http = app.test_client()
    token = csrf_of(http, "/login")
    assert http.post("/login", data={"csrf_token": token, "email": EMAIL, "password": PASSWORD})
    for path, fields in [
        ("/account/sessions/end", {"sid": "x"}),
        ("/account/sessions/end-all", {}),
        ("/account/apps/withdraw", {"client_id": "x"}),
        ("/logout", {}),
    ]:
        response = http.post(
            path, data={**fields, "csrf_token": _file()}, content_type="multipart/form-data"
        )
        assert response.status_code == 400, path
    # Still signed in: a form without its token did nothing.
    assert http.get("/account/").status_code == 200
