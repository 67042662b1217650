"""Upstream providers for brokered sign-in tests, real servers on 127.0.0.1:

- `ProviderUpstream`: a second instance of this provider (its own app and database, on a
  werkzeug server), with a client registered for the broker and a person who signs in;
  the standard upstream (discovery, JWKS, userinfo).
- `HostileUpstream`: a small OpenID provider whose answers a test bends (wrong issuer,
  bad signatures, missing nonce, expired tokens, userinfo of someone else, slow or huge
  answers, a discovery document pointing at internal addresses).

`broker_settings()` is the [UPSTREAMS.<name>] table the broker (the app under test) needs
for either; `UpstreamBrowser` walks a person from the broker's button to the callback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from helpers.live import LiveIdp, QuietHandler, form_fields

# The broker's issuer: on loopback (never listened on: the broker is the Flask test
# client), since this provider accepts http redirect URIs on loopback only.
BROKER_ISSUER = "http://127.0.0.1:9"
BROKER_CLIENT_ID = "broker"
BROKER_SECRET = "broker-secret-" + "z" * 32
UPSTREAM_EMAIL = "tran.van.binh@upstream.test"
UPSTREAM_PASSWORD = "Mật-khẩu-ở-nhà-cung-cấp-2026"


def callback_path(name: str) -> str:
    return f"/login/upstream/{name}/callback"


def broker_config(upstreams: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The broker's settings (app_config) with these upstream tables."""
    return {"ISSUER": BROKER_ISSUER, "UPSTREAMS": upstreams}


def broker_settings(issuer: str, **changes: Any) -> dict[str, Any]:
    """The broker's settings table for an upstream at `issuer` (on loopback)."""
    table = {
        "display_name": "Nhà cung cấp thử nghiệm",
        "issuer": issuer,
        "client_id": BROKER_CLIENT_ID,
        "client_secret": BROKER_SECRET,
        "scopes": ["openid", "profile", "email"],
        "claims": {"name": "name", "email": "email", "email_verified": "email_verified"},
        "levels": {"urn:hg:loa:1": "urn:hg:loa:1", "urn:hg:loa:2": "urn:hg:loa:2"},
        "allow_private_addresses": True,
    }
    table.update(changes)
    return {k: v for k, v in table.items() if v is not None}


# ------------------------------------------------------------------ this provider upstream


class ProviderUpstream:
    """This provider as an upstream, on its own port and database (a copy of the migrated
    SQLite template), with the broker registered as a first-party client."""

    def __init__(self, template: Path, directory: Path, *, names: tuple[str, ...] = ("corp",)):
        path = directory / "upstream.sqlite3"
        shutil.copy(template, path)
        self.live = LiveIdp(f"sqlite:///{path}")
        self.issuer = self.live.issuer
        self.live.add_client(
            BROKER_CLIENT_ID,
            BROKER_SECRET,
            {
                "client_name": "Broker",
                "redirect_uris": [BROKER_ISSUER + callback_path(name) for name in names],
                "scope": "openid profile email",
            },
        )
        self.sub = self.live.add_user(
            UPSTREAM_EMAIL, UPSTREAM_PASSWORD, family="Trần", middle="Văn", given="Bình"
        )

    def stop(self) -> None:
        self.live.stop()


# ------------------------------------------------------------------ hostile upstream


@dataclass
class Bends:
    """How the hostile upstream misbehaves (all off: a correct provider)."""

    discovery_issuer: str | None = None  # the issuer its discovery document names
    discovery_extra: dict[str, Any] = field(default_factory=dict)
    discovery_status: int = 200
    response_iss: str | None = None  # `iss` in the authorization response (RFC 9207)
    omit_response_iss: bool = False
    error: str | None = None  # answer the authorization request with this error
    id_token_claims: dict[str, Any] = field(default_factory=dict)  # override / add
    drop_claims: tuple[str, ...] = ()
    # good | none | hs256-public | hs256-secret | other-key | unknown-kid
    signing: str = "good"
    userinfo: dict[str, Any] = field(default_factory=dict)
    token_delay: float = 0.0
    token_body: bytes | None = None  # answer the token request with this body
    kid: str = "up-1"


class HostileUpstream:
    """An OpenID provider on 127.0.0.1 that misbehaves as `bends` says."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "up-1", "use": "sig"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "up-1", "use": "sig"})
        self.bends = Bends()
        self.codes: dict[str, dict[str, str]] = {}
        self.hits: list[str] = []
        self.stopping = threading.Event()
        self.sub = "hostile-sub-1"
        self._server = make_server(
            "127.0.0.1", 0, self.wsgi, threaded=True, request_handler=QuietHandler
        )
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    # ---- documents

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.bends.discovery_issuer or self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "userinfo_endpoint": self.issuer + "/userinfo",
            "jwks_uri": self.issuer + "/jwks",
            "authorization_response_iss_parameter_supported": True,
            **self.bends.discovery_extra,
        }

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": self.sub,
            "aud": BROKER_CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "acr": "urn:hg:loa:1",
            "sid": "up-sid-1",
            "name": "Người Thử",
        }
        claims.update(self.bends.id_token_claims)
        for name in self.bends.drop_claims:
            claims.pop(name, None)
        return self.sign(claims)

    def sign(self, claims: dict[str, Any]) -> str:
        how = self.bends.signing
        if how == "none":
            header = _b64(json.dumps({"alg": "none", "kid": "up-1"}).encode())
            return f"{header}.{_b64(json.dumps(claims).encode())}."
        if how in ("hs256-public", "hs256-secret"):
            # The classic confusion: the public key's PEM as an HMAC secret; or the
            # legitimate HS256 keyed with the client secret (OIDC Core 10.1).
            header = _b64(json.dumps({"alg": "HS256", "kid": "up-1"}).encode())
            body = _b64(json.dumps(claims).encode())
            secret = (
                self.key.as_pem(private=False) if how == "hs256-public" else BROKER_SECRET.encode()
            )
            mac = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
            return f"{header}.{body}.{_b64(mac)}"
        key = self.other_key if how == "other-key" else self.key
        kid = "unknown-kid" if how == "unknown-kid" else self.bends.kid
        return jwt.encode({"alg": "RS256", "kid": kid}, claims, key)

    # ---- the WSGI app

    def wsgi(self, environ, start_response):
        request = Request(environ)
        self.hits.append(request.path)
        handlers = {
            "/.well-known/openid-configuration": lambda: _json(
                self.discovery(), self.bends.discovery_status
            ),
            "/jwks": lambda: _json({"keys": [self.key.as_dict(private=False)]}),
            "/authorize": lambda: self.authorize(request),
            "/token": lambda: self.token(request),
            "/userinfo": lambda: _json({"sub": self.sub, **self.bends.userinfo}),
        }
        handler = handlers.get(request.path)
        response = handler() if handler else Response("not found", 404)
        return response(environ, start_response)

    def authorize(self, request: Request) -> Response:
        args = request.args
        back: dict[str, str] = {"state": args.get("state", "")}
        if self.bends.error:
            back["error"] = self.bends.error
        else:
            code = secrets.token_urlsafe(16)
            self.codes[code] = dict(args)
            back["code"] = code
        if not self.bends.omit_response_iss:
            back["iss"] = self.bends.response_iss or self.issuer
        return Response(
            status=302, headers={"Location": args["redirect_uri"] + "?" + urlencode(back)}
        )

    def token(self, request: Request) -> Response:
        if self.bends.token_delay:
            self.stopping.wait(self.bends.token_delay)
        if self.bends.token_body is not None:
            return Response(self.bends.token_body, 200, content_type="application/json")
        asked = self.codes.pop(request.form.get("code", ""), None)
        if asked is None:
            return _json({"error": "invalid_grant"}, 400)
        verifier = request.form.get("code_verifier", "")
        challenge = _b64(hashlib.sha256(verifier.encode()).digest())
        if challenge != asked.get("code_challenge"):
            return _json({"error": "invalid_grant", "error_description": "PKCE"}, 400)
        return _json(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self.id_token(asked.get("nonce", "")),
            }
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value), status, content_type="application/json")


# ------------------------------------------------------------------ the person's browser


class UpstreamBrowser:
    """Walks a person through a brokered sign-in: the broker is the Flask test client
    `broker`, the upstream a real server reached with `requests`."""

    def __init__(self, broker) -> None:
        self.broker = broker
        self.http = requests.Session()
        # How many times the upstream asked for the password.
        self.upstream_logins = 0

    def start(self, name: str, next_url: str | None = None, **params: str):
        query = urlencode({k: v for k, v in {"next": next_url, **params}.items() if v})
        return self.broker.get(f"/login/upstream/{name}" + (f"?{query}" if query else ""))

    def to_upstream(self, name: str, next_url: str | None = None, **params: str) -> str:
        """Press the button: the upstream's authorization URL the broker sends us to."""
        response = self.start(name, next_url, **params)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response.headers["Location"]

    def follow_upstream(self, location: str, email: str = "", password: str = "") -> str:
        """At the upstream: sign in when asked; the callback URL it sends us back with."""
        answer = self.http.get(location, allow_redirects=False, timeout=15)
        while answer.status_code == 302 and not answer.headers["Location"].startswith(
            BROKER_ISSUER
        ):
            target = answer.headers["Location"]
            if target.startswith("/"):
                target = location.split("/", 3)[0] + "//" + urlsplit(location).netloc + target
            answer = self.http.get(target, allow_redirects=False, timeout=15)
            if answer.status_code == 200 and "/login" in urlsplit(answer.url).path:
                fields = form_fields(answer.text, "/login")
                fields.update(email=email, password=password)
                self.upstream_logins += 1
                base = f"{urlsplit(answer.url).scheme}://{urlsplit(answer.url).netloc}"
                answer = self.http.post(
                    base + "/login", data=fields, allow_redirects=False, timeout=15
                )
        assert answer.status_code == 302, (answer.status_code, answer.text[:500])
        return answer.headers["Location"]

    def back_at_broker(self, callback: str):
        parts = urlsplit(callback)
        return self.broker.get(parts.path + "?" + parts.query)

    def sign_in(self, name: str, next_url: str | None = None, **credentials: str):
        """The whole round: button, upstream, callback; the broker's answer to the callback."""
        location = self.to_upstream(name, next_url)
        return self.back_at_broker(self.follow_upstream(location, **credentials))

    def close(self) -> None:
        self.http.close()


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


# ------------------------------------------------------------------ fixtures
# Registered by the conftest.py of each folder that uses them (tests/upstreams,
# tests/security): `from helpers.upstreams import provider_upstream, ...`.


@pytest.fixture
def fresh_upstream_caches():
    """Discovery documents and keys are cached per process, by upstream name: each test
    starts without them."""
    from idp.upstreams import client

    client.forget_cached()
    yield
    client.forget_cached()


@pytest.fixture(scope="module")
def provider_upstream(sqlite_template, tmp_path_factory):
    upstream = ProviderUpstream(sqlite_template, tmp_path_factory.mktemp("upstream"))
    try:
        yield upstream
    finally:
        upstream.stop()


@pytest.fixture
def hostile_upstream():
    upstream = HostileUpstream()
    try:
        yield upstream
    finally:
        upstream.stop()


@pytest.fixture
def person(client, fresh_upstream_caches):
    browser = UpstreamBrowser(client)
    try:
        yield browser
    finally:
        browser.close()
