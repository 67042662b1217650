"""Sign-in throttling: browsers at client addresses of their own, and delays ended at once
instead of waited out."""

from __future__ import annotations

import re

import sqlalchemy as sa

from helpers.pages import CSRF, csrf_of
from helpers.people import EMAIL, PASSWORD

VICTIM_IP = "198.51.100.7"
ATTACKER_IP = "203.0.113.66"


class Browser:
    """One browser (its own cookie jar) at one client address."""

    def __init__(self, app, ip: str, base_url: str = "http://localhost") -> None:
        self.http = app.test_client()
        self.http.environ_base["REMOTE_ADDR"] = ip
        self.base_url = base_url

    def login(self, email: str = EMAIL, password: str = PASSWORD, token: str | None = None):
        if token is None:
            token = csrf_of(self.http, "/login", base_url=self.base_url)
        data = {"email": email, "password": password, "csrf_token": token}
        # Browsers send the Referer of a same-origin form (Flask-WTF checks it over https).
        referer = {"Referer": f"{self.base_url}/login"}
        return self.http.post("/login", data=data, base_url=self.base_url, headers=referer)

    def logout(self):
        token = csrf_of(self.http, "/logout", base_url=self.base_url)
        referer = {"Referer": f"{self.base_url}/logout"}
        return self.http.post(
            "/logout", data={"csrf_token": token}, base_url=self.base_url, headers=referer
        )

    def signed_in(self) -> bool:
        return self.http.get("/account/", base_url=self.base_url).status_code == 200


def sign_in(identifier: str, password: str, *, commit_success: bool = True, **where):
    """The sign-in page's steps in-process, within a request context: count the attempt
    and commit, then check the password and commit (a success only with `commit_success`:
    without, the caller may roll it back, as if the page had never answered); the
    SignInResult."""
    from idp.extensions import db
    from idp.interaction.service import SignInResult, begin_sign_in, finish_sign_in

    attempt = begin_sign_in(identifier, **where)
    db.session.commit()
    if attempt.retry_after:
        return SignInResult(None, retry_after=attempt.retry_after)
    result = finish_sign_in(attempt, password)
    if result.user is None or commit_success:
        db.session.commit()
    return result


def let_blocks_pass(app) -> None:
    """Every current delay ends now (moved back in the database instead of sleeping)."""
    from idp.extensions import db, utcnow
    from idp.sessions.models import LoginThrottle

    with app.app_context():
        db.session.execute(sa.update(LoginThrottle).values(blocked_until=utcnow()))
        db.session.commit()


def fail_repeatedly(app, browser, addresses: list[str], failures: int) -> None:
    """Wrong passwords from `browser` (anything with login(email, password)), each once the
    previous delay is over, cycling through `addresses`: the last failure starts a delay of
    2 ** (failures - free attempts - 1) seconds."""
    for i in range(failures):
        let_blocks_pass(app)
        response = browser.login(addresses[i % len(addresses)], "wrong-password")
        assert response.status_code == 401, (i, response.status_code)


def normalised_answer(response) -> tuple:
    """A sign-in page's answer without what differs from one request to the next (CSRF
    token, the typed address, digits): equal for answers that tell nothing apart."""
    body = response.get_data(as_text=True)
    body = CSRF.sub("", body)
    body = re.sub(r'(name="email" [^>]*value=")[^"]*"', r'\1"', body)
    body = re.sub(r'value="[^"]*@[^"]*"', "", body)
    # The offer of a password link carries the typed address to the forgot-password form.
    body = re.sub(r'(/password/forgot\?email=)[^"]*"', r'\1"', body)
    return (
        response.status_code,
        re.sub(r"\d", "#", body),
        "Retry-After" in response.headers,
        sorted(h.split("=", 1)[0] for h in response.headers.getlist("Set-Cookie")),
    )
