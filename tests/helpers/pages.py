"""Reading the provider's pages the way a browser does."""

from __future__ import annotations

import re

from helpers.people import EMAIL, PASSWORD

# Hidden in forms; the account page's forms name it without a type.
CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token in the page's first form."""
    match = CSRF.search(html)
    assert match, "no CSRF token on the page: " + html[:500]
    return match.group(1)


def csrf_of(http, path: str, **kwargs) -> str:
    """GET `path` with the Flask test client `http`: the CSRF token of its form."""
    return csrf_token(http.get(path, **kwargs).get_data(as_text=True))


def sign_in(http, email: str = EMAIL, password: str = PASSWORD, **fields: str):
    """Fill in and post the sign-in form with the Flask test client `http`; the answer."""
    data = {"email": email, "password": password, "csrf_token": csrf_of(http, "/login"), **fields}
    return http.post("/login", data=data)


def sign_out(http):
    """Press "Đăng xuất" on the provider's sign-out page; the answer."""
    return http.post("/logout", data={"csrf_token": csrf_of(http, "/logout")})


class AuthActions:
    """The `auth` fixture: sign in and out with the test client's browser."""

    def __init__(self, client):
        self._client = client

    def csrf_token(self, path: str = "/login") -> str:
        return csrf_of(self._client, path)

    def login(self, email: str = EMAIL, password: str = PASSWORD, **extra: str):
        return sign_in(self._client, email, password, **extra)

    def logout(self):
        return sign_out(self._client)
