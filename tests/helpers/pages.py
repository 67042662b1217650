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
