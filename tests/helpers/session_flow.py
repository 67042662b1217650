"""Helpers of the session tests."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

from helpers.clients import REDIRECT_URI


def sign_in_to(http, client_id: str) -> str:
    """Open a relying party with the browser's SSO session: it gets a code (and would get
    an ID token), so it is recorded as a client of the session. Returns the code."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    response = http.get("/oauth2/authorize?" + urlencode(params))
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)
