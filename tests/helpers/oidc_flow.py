"""A relying party for the protocol tests: runs flows and checks tokens (its clients are
stored by helpers/clients.py).

It talks to the provider only over HTTP (the Flask test client) and validates tokens the
way the OpenID Foundation's conformance suite does: signature against /jwks, then claims.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet

from helpers.clients import REDIRECT_URI, SECRET
from helpers.pages import csrf_token, sign_in
from helpers.people import EMAIL, PASSWORD

ISSUER = "http://idp.test"


def basic(client_id: str, secret: str = SECRET) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


def query_of(location: str) -> dict[str, str]:
    values = parse_qs(urlsplit(location).query, keep_blank_values=True)
    return {k: v[0] for k, v in values.items()}


def provider_jwks(app) -> KeySet:
    """The provider's public keys as /jwks publishes them, read in-process."""
    from idp.keys.ring import jwks_document

    with app.app_context():
        return KeySet.import_key_set(json.loads(jwks_document()))


def half_hash(value: str, alg: str) -> str:
    digest = hashlib.sha256(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


@dataclass
class Flow:
    """The result of an authorization code flow."""

    code: str
    state: str | None
    nonce: str | None
    verifier: str | None
    params: dict[str, str]


class RelyingParty:
    def __init__(self, http, client_id: str = "webmail", secret: str | None = SECRET):
        self.http = http
        self.client_id = client_id
        self.secret = secret

    # ---- sign-in
    def login(self, email: str = EMAIL, password: str = PASSWORD, next_url: str | None = None):
        return sign_in(self.http, email, password, **({"next": next_url} if next_url else {}))

    # ---- authorization endpoint
    def authorize(self, method: str = "GET", **params: Any):
        defaults = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid",
        }
        values = {k: v for k, v in {**defaults, **params}.items() if v is not None}
        if method == "POST":
            return self.http.post("/oauth2/authorize", data=values)
        return self.http.get("/oauth2/authorize?" + urlencode(values))

    def sign_in_through(self, response, email: str = EMAIL, password: str = PASSWORD):
        """Follow a redirect to the sign-in page, sign in, and come back to the provider."""
        assert response.status_code == 302, response.get_data(as_text=True)
        location = response.headers["Location"]
        assert urlsplit(location).path == "/login", location
        next_url = query_of(location)["next"]
        signed = self.login(email, password, next_url=next_url)
        assert signed.status_code == 302, signed.get_data(as_text=True)[:500]
        back = signed.headers["Location"]
        assert back.startswith("/oauth2/authorize"), back
        return self.http.get(back)

    def consent(self, response, action: str = "allow"):
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and 'name="consent_action"' in page, page[:500]
        fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
        from html import unescape

        data = [(name, unescape(value)) for name, value in fields]
        data.append(("csrf_token", csrf_token(page)))
        data.append(("consent_action", action))
        from werkzeug.datastructures import MultiDict

        return self.http.post("/oauth2/authorize", data=MultiDict(data))

    def code_flow(
        self,
        *,
        pkce: bool = False,
        nonce: str | None = "n-0S6_WzA2Mj",
        state: str | None = "af0ifjsldkj",
        login: bool = True,
        **params: Any,
    ) -> Flow:
        verifier = None
        if pkce:
            verifier, challenge = pkce_pair()
            params.update(code_challenge=challenge, code_challenge_method="S256")
        response = self.authorize(nonce=nonce, state=state, **params)
        if login and response.status_code == 302 and "/login" in response.headers["Location"]:
            response = self.sign_in_through(response)
        if response.status_code == 200 and 'name="consent_action"' in response.get_data(
            as_text=True
        ):
            response = self.consent(response)
        assert response.status_code == 302, response.get_data(as_text=True)[:800]
        location = response.headers["Location"]
        assert location.startswith(params.get("redirect_uri", REDIRECT_URI)), location
        values = query_of(location)
        assert "code" in values, values
        return Flow(values["code"], values.get("state"), nonce, verifier, values)

    # ---- token endpoint
    def token(self, data: dict[str, Any], headers: dict[str, str] | None = None, auth=True):
        headers = dict(headers or {})
        if auth and self.secret is not None and "Authorization" not in headers:
            headers.update(basic(self.client_id, self.secret))
        if auth and self.secret is None:
            data = {"client_id": self.client_id, **data}
        return self.http.post("/oauth2/token", data=data, headers=headers)

    def exchange(self, flow: Flow, **extra: Any):
        data = {"grant_type": "authorization_code", "code": flow.code, "redirect_uri": REDIRECT_URI}
        if flow.verifier:
            data["code_verifier"] = flow.verifier
        data.update(extra)
        return self.token(data)

    def exchange_code(self, code: str, verifier: str | None = None) -> dict[str, Any]:
        flow = Flow(code, None, None, verifier, {})
        response = self.exchange(flow)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def refresh(self, refresh_token: str, **extra: Any):
        return self.token({"grant_type": "refresh_token", "refresh_token": refresh_token, **extra})

    def tokens(self, **params: Any) -> dict[str, Any]:
        flow = self.code_flow(**params)
        response = self.exchange(flow)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        body["_flow"] = flow
        return body

    # ---- other endpoints
    def userinfo(self, access_token: str, how: str = "header"):
        if how == "header":
            return self.http.get(
                "/oauth2/userinfo", headers={"Authorization": f"Bearer {access_token}"}
            )
        if how == "post-header":
            return self.http.post(
                "/oauth2/userinfo", headers={"Authorization": f"Bearer {access_token}"}
            )
        return self.http.post("/oauth2/userinfo", data={"access_token": access_token})

    def introspect(
        self, token: str, client_id: str | None = None, secret: str | None = None, **extra
    ):
        """RFC 7662, asked by this client (its own tokens) unless another one is named."""
        if client_id is None:
            client_id, secret = self.client_id, self.secret
        return self.http.post(
            "/oauth2/introspect",
            data={"token": token, **extra},
            headers=basic(client_id, secret or SECRET),
        )

    def revoke(self, token: str, **extra: Any):
        return self.token_request("/oauth2/revoke", {"token": token, **extra})

    def token_request(self, path: str, data: dict[str, Any]):
        headers = basic(self.client_id, self.secret) if self.secret is not None else {}
        if self.secret is None:
            data = {"client_id": self.client_id, **data}
        return self.http.post(path, data=data, headers=headers)

    # ---- validation, as the conformance suite does it
    def jwks(self) -> KeySet:
        return KeySet.import_key_set(json.loads(self.http.get("/jwks").get_data()))

    def validate_id_token(
        self,
        id_token: str,
        *,
        nonce: str | None = None,
        access_token: str | None = None,
        alg: str = "RS256",
    ) -> dict[str, Any]:
        header = json.loads(base64.urlsafe_b64decode(id_token.split(".")[0] + "=="))
        assert header["alg"] == alg and "kid" in header
        decoded = jwt.decode(id_token, self.jwks(), algorithms=[alg])
        claims = decoded.claims
        now = time.time()
        assert claims["iss"] == ISSUER
        assert claims["aud"] == self.client_id or self.client_id in claims["aud"]
        assert claims["azp"] == self.client_id
        assert isinstance(claims["sub"], str) and claims["sub"]
        assert claims["iat"] <= now + 5 and claims["exp"] > now
        assert isinstance(claims["auth_time"], int) and claims["auth_time"] <= now + 5
        assert claims.get("nonce") == nonce
        if access_token is not None:
            assert claims["at_hash"] == half_hash(access_token, alg)
        return claims

    def access_token_claims(self, access_token: str) -> dict[str, Any]:
        header = json.loads(base64.urlsafe_b64decode(access_token.split(".")[0] + "=="))
        assert header["typ"] == "at+jwt"
        return jwt.decode(access_token, self.jwks(), algorithms=[header["alg"]]).claims


# ---------------------------------------------------------------- private_key_jwt clients


class ClientKeys:
    """An RP's signing keys, published at a jwks_uri served on 127.0.0.1 (a real server)."""

    def __init__(self) -> None:
        import http.server
        import threading

        from joserfc.jwk import RSAKey

        self.keys = [RSAKey.generate_key(2048, parameters={"kid": "rp-1"})]
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = json.dumps(outer.public_jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"

    def public_jwks(self) -> dict[str, Any]:
        return {
            "keys": [k.as_dict(private=False) | {"use": "sig", "alg": "RS256"} for k in self.keys]
        }

    def rotate(self) -> None:
        from joserfc.jwk import RSAKey

        self.keys = [RSAKey.generate_key(2048, parameters={"kid": f"rp-{len(self.keys) + 1}"})]

    def assertion(self, client_id: str, aud: str = ISSUER + "/oauth2/token", **claims: Any) -> str:
        key = self.keys[-1]
        now = int(time.time())
        payload = {
            "iss": client_id,
            "sub": client_id,
            "aud": aud,
            "jti": secrets.token_urlsafe(12),
            "iat": now,
            "exp": now + 60,
            **claims,
        }
        return jwt.encode({"alg": "RS256", "kid": key.kid}, payload, key)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
