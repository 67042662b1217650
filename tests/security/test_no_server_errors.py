"""Issue 8, finding 8: no request, however hostile, gets a 5xx or logs a traceback.

Each endpoint of the provider starts from a request that works (a known client, a signed-in
browser, fresh codes and tokens, valid CSRF tokens), so that hostile values reach the deep
code, not only the first check; then every parameter in turn gets every hostile value:
huge strings, NUL and control characters, percent-encodings that are not UTF-8, deeply
nested JSON, lists and objects where strings are expected, repeated parameters, bad ports,
unicode. The assertion is the same everywhere: a status below 500 and no log record with
a traceback or at ERROR level. Routes are read from the app, so a new route without an
entry here fails test_every_route_is_fuzzed.

The reported examples: `redirect_uri=http://127.0.0.1:x/...` (ValueError on the port) and a
deeply nested `claims` value (RecursionError), both 500s with tracebacks.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from helpers.clients import SECRET, initial_access_token, insert_client
from helpers.limits import UNLIMITED
from helpers.mailbox import last_link
from helpers.oidc_flow import basic, pkce_pair
from helpers.pages import csrf_of, csrf_token, sign_in
from helpers.people import EMAIL, PASSWORD
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NATIVE_REDIRECT = "http://127.0.0.1:8080/oauth2redirect"
WEB_REDIRECT = "https://rp.example/cb"
POST_LOGOUT = "https://rp.example/bye"


class Raw(str):
    """A value already percent-encoded, sent as it is (e.g. bytes that are not UTF-8)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


DEEP_ARRAY = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a":' * 3000 + "1" + "}" * 3000
DEEP_CLAIMS = '{"id_token":{"email":{"value":' + "[" * 2000 + "]" * 2000 + "}}}"
# A JWS whose header is nested JSON: the kind of token joserfc is asked to read.
DEEP_JWT = f"{_b64(DEEP_ARRAY.encode())}.{_b64(b'{}')}.{_b64(b'sig')}"

HOSTILE: list[str] = [
    "",
    " ",
    "x" * 20000,
    "\x00",
    "a\x00b",
    "\r\n",
    "\t\x0b\x0c\x1b\x7f",
    Raw("%ff%fe%fd"),
    Raw("%c3%28"),
    Raw("%ed%a0%80"),
    Raw("%"),
    Raw("%zz"),
    Raw("%25%32%35"),
    "Nguyễn Văn An 😀",
    "\u202e\u200b\ufeff",
    "\u0130ẞﬃ",
    "ＡＢＣ１２３",
    "e\u0301" * 50,
    DEEP_ARRAY,
    DEEP_OBJECT,
    DEEP_CLAIMS,
    '{"id_token": [], "userinfo": "x"}',
    '{"id_token": {"email": {"essential": "yes", "values": "x"}}}',
    "null",
    "[]",
    "{}",
    "-1",
    "0",
    "99999999999999999999999999999",
    "1e309",
    "NaN",
    "http://127.0.0.1:x/oauth2redirect",
    "http://127.0.0.1:99999999999999999999/oauth2redirect",
    "http://[::1/oauth2redirect",
    "http://[zz]/cb",
    "https://rp.example:-1/cb",
    "http://localhost:7777\\@127.0.0.1:8080/oauth2redirect",
    "//evil.example/x",
    "/\\evil.example",
    "javascript:alert(1)",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../../etc/passwd",
    "a.b.c",
    "e30.e30.",
    DEEP_JWT,
    "Basic !!!",
    "Bearer " + "x" * 5000,
]
# On PostgreSQL, the values that could reach storage differently than on SQLite (NUL,
# lengths beyond a column, text that is not UTF-8); the parsing is the same on both.
STORAGE_HOSTILE = [
    v
    for v in HOSTILE
    if len(v) > 1000 or not v.isascii() or not v.isprintable() or isinstance(v, Raw)
]
# Values of the Authorization header, and JSON values for the JSON endpoints.
AUTH_HEADERS = [
    "",
    "Basic",
    "Basic !!!",
    "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
    "Basic " + base64.b64encode(b"no-colon").decode(),
    "Basic " + base64.b64encode(b"webmail:" + b"x" * 5000).decode(),
    "Basic " + base64.b64encode("webmail:😀".encode()).decode(),
    "Bearer",
    "Bearer ",
    "Bearer a b c",
    "Bearer " + DEEP_JWT,
    "Bearer e30.e30.",
    "Bearer " + "x" * 10000,
    "DPoP x",
    "\u00e9\u00e8",
]
JSON_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    10**40,
    1.5,
    "",
    "x" * 20000,
    "\x00",
    "😀",
    "\ud800",
    ["\udfff"],
    {"\ud800": 1},
    [],
    [None],
    [[["x"]]],
    {},
    {"a": {"b": []}},
    ["http://127.0.0.1:x/cb"],
    ["http://[::1/cb"],
    ["https://rp.example\\@evil.example/cb"],
    json.loads("[" * 50 + "]" * 50),
]

STORAGE_JSON = [
    v
    for v in JSON_VALUES
    if isinstance(v, (str, list, dict))
    and v
    and (len(json.dumps(v)) > 1000 or not json.dumps(v).isascii() or "\\u" in json.dumps(v))
]


def encode(value: str) -> str:
    return value if isinstance(value, Raw) else quote(value, safe="")


def query(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in params)


def variants(
    base: dict[str, str], names: list[str], values: list[str]
) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """For each name: each hostile value in its place, then the name repeated and as a list."""
    for name in names:
        others = [(k, v) for k, v in base.items() if k != name]
        for value in values:
            yield name, [*others, (name, value)]
        original = base.get(name, "x")
        yield name, [*others, (name, original), (name, original)]
        yield name, [*others, (name, original), (name, "other")]
        yield name, [*others, (name + "[]", original), (name + "[0]", original)]


# ---------------------------------------------------------------- what is watched


@dataclass
class Fuzz:
    """Sends requests and collects what went wrong, reported together at the end: answers
    of 5xx, and records logged with an exception or at ERROR and above (caplog gets every
    logger's, the `idp` ones included)."""

    caplog: pytest.LogCaptureFixture
    failures: list[str] = field(default_factory=list)
    sent: int = 0

    def check(self, response, what: str) -> None:
        self.sent += 1
        if response.status_code >= 500:
            self.failures.append(f"{response.status_code} on {what[:300]}")
        for record in self.caplog.records:
            if record.exc_info or record.levelno >= logging.ERROR:
                self.failures.append(
                    f"logged {record.levelname} {record.getMessage()!r}"
                    f" ({record.exc_info[0].__name__ if record.exc_info else ''})"
                    f" on {what[:300]}"
                )
        self.caplog.clear()

    def send(
        self,
        http,
        method: str,
        path: str,
        params: list[tuple[str, str]] | None = None,
        *,
        body: str | bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        in_body: bool | None = None,
    ) -> Any:
        params = params or []
        if in_body is None:
            in_body = method in ("POST", "PUT")
        raw = query(params)
        kwargs: dict[str, Any] = {"headers": headers or {}}
        if in_body:
            kwargs["data"] = raw if body is None else body
            kwargs["content_type"] = content_type or "application/x-www-form-urlencoded"
        else:
            kwargs["query_string"] = raw
            if body is not None:
                kwargs["data"] = body
                kwargs["content_type"] = content_type
        try:
            response = http.open(path, method=method, **kwargs)
        except Exception as exc:  # the test client raises what the app did not handle
            self.failures.append(
                f"{type(exc).__name__}: {exc!s:.200} on {method} {path} {raw[:200]}"
            )
            return None
        self.check(response, f"{method} {path} {raw} {headers or ''}")
        return response

    def done(self) -> None:
        unique = list(dict.fromkeys(self.failures))
        assert not unique, f"{len(unique)} problems in {self.sent} requests:\n" + "\n".join(
            unique[:40]
        )


# ---------------------------------------------------------------- the world being fuzzed


def add_client(app, client_id: str, **metadata: Any) -> None:
    first_party = metadata.pop("first_party", True)
    public = metadata.get("token_endpoint_auth_method") == "none"
    insert_client(
        app,
        client_id,
        {
            "client_name": f"Ứng dụng {client_id}",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": "openid profile email phone org offline_access",
            "redirect_uris": [WEB_REDIRECT],
            "post_logout_redirect_uris": [POST_LOGOUT],
            **metadata,
        },
        secret=None if public else SECRET,
        first_party=first_party,
    )


class World:
    def __init__(self, app, fuzz: Fuzz, values: list[str]) -> None:
        self.app = app
        self.fuzz = fuzz
        self.values = values

    def still_signed_in(self, http, response):
        """The browser, or a newly signed-in one when `response` ended its session (it
        expired a cookie): signing in for every request would double the time."""
        cookies = response.headers.getlist("Set-Cookie") if response is not None else []
        if any("Max-Age=0" in c or "Expires=Thu, 01 Jan 1970" in c for c in cookies):
            return self.browser()
        return http

    def browser(self, signed_in: bool = True):
        http = self.app.test_client()
        if signed_in:
            response = sign_in(http)
            assert response.status_code == 302, response.get_data(as_text=True)[:300]
        return http

    def csrf(self, http, path: str = "/login") -> str:
        return csrf_of(http, path)

    def code(
        self, http, client_id: str = "webmail", redirect_uri: str = WEB_REDIRECT, **extra: str
    ) -> tuple[str, str]:
        verifier, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid profile email offline_access",
            "nonce": "n",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **extra,
        }
        response = http.get("/oauth2/authorize?" + query(list(params.items())))
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        return parse_qs(urlsplit(response.headers["Location"]).query)["code"][0], verifier

    def tokens(self, http) -> dict[str, Any]:
        code, verifier = self.code(http)
        response = http.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": WEB_REDIRECT,
                "code_verifier": verifier,
            },
            headers=basic("webmail"),
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()


@pytest.fixture
def app_config() -> dict:
    # Hundreds of failing calls from one test client: the rate limits would answer 429 to
    # the requests that must work (its own tests: tests/test_limits.py).
    return UNLIMITED


@pytest.fixture
def world(app, database_url, make_user, caplog) -> World:
    make_user(EMAIL, PASSWORD)
    add_client(app, "webmail")
    add_client(
        app,
        "haugiang-app",
        application_type="native",
        token_endpoint_auth_method="none",
        redirect_uris=["http://127.0.0.1/oauth2redirect", "vn.gov.haugiang.app:/cb"],
    )
    add_client(app, "outside", first_party=False, scope="openid email")
    add_client(
        app,
        "resource",
        grant_types=["client_credentials"],
        response_types=[],
        redirect_uris=[],
        scope="lgsp.read",
        allowed_audiences=["https://lgsp.haugiang.gov.vn"],
    )
    values = STORAGE_HOSTILE if database_url.startswith("postgresql") else HOSTILE
    return World(app, Fuzz(caplog), values)


# ---------------------------------------------------------------- the endpoints

AUTHORIZATION_PARAMETERS = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "response_mode",
    "prompt",
    "max_age",
    "claims",
    "acr_values",
    "login_hint",
    "id_token_hint",
    "ui_locales",
    "display",
    "request",
    "request_uri",
    "resource",
    "login_ticket",
    "consent_action",
    "csrf_token",
]


def authorization_base(client_id: str = "haugiang-app") -> dict[str, str]:
    _verifier, challenge = pkce_pair()
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": NATIVE_REDIRECT if client_id == "haugiang-app" else WEB_REDIRECT,
        "scope": "openid profile email",
        "state": "s",
        "nonce": "n",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }


def test_authorization_endpoint(world):
    fuzz = world.fuzz
    signed_in, signed_out = world.browser(), world.browser(signed_in=False)
    tokens = world.tokens(signed_in)
    base = {**authorization_base(), "id_token_hint": tokens["id_token"], "max_age": "3600"}
    for http in (signed_in, signed_out):
        for _name, params in variants(base, AUTHORIZATION_PARAMETERS, world.values):
            fuzz.send(http, "GET", "/oauth2/authorize", params)
    for _name, params in variants(
        authorization_base("webmail"), AUTHORIZATION_PARAMETERS, world.values
    ):
        fuzz.send(signed_in, "POST", "/oauth2/authorize", params)
    fuzz.done()


def test_consent_form(world):
    """The consent page's form (a client that is not first-party) posted back, altered."""
    fuzz = world.fuzz
    http = world.browser()
    base = {**authorization_base("outside"), "scope": "openid email"}
    page = http.get("/oauth2/authorize?" + query(list(base.items()))).get_data(as_text=True)
    assert 'name="consent_action"' in page
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    posted = {**base, "csrf_token": csrf_token(page), "consent_action": "allow", **fields}
    for _name, params in variants(posted, [*posted, "claims", "prompt"], world.values):
        fuzz.send(http, "POST", "/oauth2/authorize", params)
    fuzz.done()


def test_token_endpoint(world):
    fuzz = world.fuzz
    http = world.browser()
    code_names = [
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "client_id",
        "client_secret",
        "resource",
        "scope",
    ]
    for name in code_names:
        for value in [*world.values, None]:
            code, verifier = world.code(http)
            base = {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": WEB_REDIRECT,
                "code_verifier": verifier,
            }
            params = [(k, v) for k, v in base.items() if k != name]
            if value is not None:
                params.append((name, value))
            else:  # repeated
                params += [(name, base.get(name, "x"))] * 2
            fuzz.send(http, "POST", "/oauth2/token", params, headers=basic("webmail"))
    refresh_names = ["grant_type", "refresh_token", "scope", "resource", "client_id"]
    refresh_token = world.tokens(http)["refresh_token"]
    for name in refresh_names:
        for value in world.values:
            base = {"grant_type": "refresh_token", "refresh_token": refresh_token}
            params = [*((k, v) for k, v in base.items() if k != name), (name, value)]
            response = fuzz.send(http, "POST", "/oauth2/token", params, headers=basic("webmail"))
            if response is not None and response.status_code == 200:
                refresh_token = response.get_json()["refresh_token"]
            elif name == "grant_type" or name == "refresh_token":
                continue
            else:  # a refused refresh may have ended the family: start another
                refresh_token = world.tokens(http)["refresh_token"]
    credentials = {
        "grant_type": "client_credentials",
        "scope": "lgsp.read",
        "resource": "https://lgsp.haugiang.gov.vn",
    }
    assertion_names = [
        "grant_type",
        "scope",
        "resource",
        "client_assertion",
        "client_assertion_type",
        "client_id",
        "client_secret",
    ]
    for _name, params in variants(credentials, assertion_names, world.values):
        fuzz.send(http, "POST", "/oauth2/token", params, headers=basic("resource"))
    for header in AUTH_HEADERS:
        fuzz.send(
            http,
            "POST",
            "/oauth2/token",
            list(credentials.items()),
            headers={"Authorization": header},
        )
    # Bodies that are not forms at all.
    for body, kind in [
        (DEEP_ARRAY, "application/json"),
        (b"\xff\xfe", "text/plain"),
        (b"grant_type=%ff", None),
        ("a" * 100, "multipart/form-data"),
    ]:
        fuzz.send(
            http, "POST", "/oauth2/token", body=body, content_type=kind, headers=basic("webmail")
        )
    fuzz.done()


@pytest.mark.parametrize("path", ["/oauth2/introspect", "/oauth2/revoke"])
def test_introspection_and_revocation(world, path):
    fuzz = world.fuzz
    http = world.browser()
    tokens = world.tokens(http)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        base = {"token": token, "token_type_hint": "access_token"}
        for _name, params in variants(
            base, ["token", "token_type_hint", "client_id"], world.values
        ):
            fuzz.send(http, "POST", path, params, headers=basic("webmail"))
    for header in AUTH_HEADERS:
        fuzz.send(
            http,
            "POST",
            path,
            [("token", tokens["access_token"])],
            headers={"Authorization": header},
        )
    fuzz.done()


def test_userinfo(world):
    fuzz = world.fuzz
    http = world.browser()
    access_token = world.tokens(http)["access_token"]
    for header in [*AUTH_HEADERS, *("Bearer " + v for v in world.values if "\n" not in v)]:
        for method in ("GET", "POST"):
            fuzz.send(http, method, "/oauth2/userinfo", headers={"Authorization": header})
    for _name, params in variants(
        {"access_token": access_token}, ["access_token", "claims"], world.values
    ):
        fuzz.send(http, "POST", "/oauth2/userinfo", params)
        fuzz.send(
            http,
            "GET",
            "/oauth2/userinfo",
            params,
            headers={"Authorization": f"Bearer {access_token}"},
        )
    fuzz.done()


END_SESSION_PARAMETERS = [
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
    "ui_locales",
    "logout_hint",
    "logout_confirm",
    "csrf_token",
]


def test_end_session(world):
    fuzz = world.fuzz
    http = world.browser()
    id_token = world.tokens(http)["id_token"]
    base = {
        "id_token_hint": id_token,
        "client_id": "webmail",
        "post_logout_redirect_uri": POST_LOGOUT,
        "state": "s",
    }
    for method in ("GET", "POST"):
        for _name, params in variants(base, END_SESSION_PARAMETERS, world.values):
            response = fuzz.send(http, method, "/oauth2/logout", params)
            http = world.still_signed_in(http, response)
    # The confirmation form (a request without an id_token_hint), posted altered.
    http = world.browser()
    page = http.get("/oauth2/logout?client_id=webmail").get_data(as_text=True)
    confirm = {"client_id": "webmail", "logout_confirm": "1", "csrf_token": csrf_token(page)}
    for _name, params in variants(confirm, END_SESSION_PARAMETERS, world.values):
        fuzz.send(http, "POST", "/oauth2/logout", params)
    fuzz.done()


REGISTRATION = {
    "redirect_uris": [WEB_REDIRECT],
    "client_name": "Ứng dụng thử",
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "client_secret_basic",
    "application_type": "web",
    "scope": "openid email",
    "contacts": ["a@haugiang.gov.vn"],
    "post_logout_redirect_uris": [POST_LOGOUT],
    "client_uri": "https://rp.example/",
    "logo_uri": "https://rp.example/logo.png",
    "policy_uri": "https://rp.example/policy",
    "tos_uri": "https://rp.example/tos",
    "frontchannel_logout_uri": "https://rp.example/fc",
    "backchannel_logout_uri": "https://rp.example/bc",
    "default_max_age": 3600,
    "require_auth_time": True,
    "default_acr_values": ["urn:hg:loa:1"],
    "id_token_signed_response_alg": "RS256",
    "userinfo_signed_response_alg": "RS256",
    "client_name#en": "Test app",
}


def test_registration_and_management(world):
    fuzz = world.fuzz
    http = world.app.test_client()
    initial = initial_access_token(world.app, uses=None, expires_in=600, note="f", actor="f")

    def token() -> dict[str, str]:
        return {"Authorization": f"Bearer {initial}"}

    def register(document: Any) -> Any:
        body = json.dumps(document) if not isinstance(document, (str, bytes)) else document
        return fuzz.send(
            http,
            "POST",
            "/oauth2/register",
            body=body,
            content_type="application/json",
            headers=token(),
        )

    extra = ["jwks", "jwks_uri", "sector_identifier_uri", "software_statement", "unknown#xx"]
    json_values = JSON_VALUES if world.values is HOSTILE else STORAGE_JSON
    for name in [*REGISTRATION, *extra]:
        for value in [*json_values, *world.values[:12]]:
            register({**REGISTRATION, name: value})
            if isinstance(value, str):
                register({**REGISTRATION, name: [value]})
    for body in [DEEP_ARRAY, DEEP_OBJECT, b"\xff\xfe", "", "[]", "null", '{"a":1}' * 1000]:
        register(body)
    for header in AUTH_HEADERS:
        fuzz.send(
            http,
            "POST",
            "/oauth2/register",
            body=json.dumps(REGISTRATION),
            content_type="application/json",
            headers={"Authorization": header},
        )

    created = http.post("/oauth2/register", json=REGISTRATION, headers=token())
    assert created.status_code == 201, created.get_data(as_text=True)
    created = created.get_json()
    client_id, access = created["client_id"], created["registration_access_token"]
    bearer = {"Authorization": f"Bearer {access}"}
    for value in world.values:
        if "\x00" in value or value in ("", " "):
            continue  # not a path
        path = "/oauth2/register/" + encode(value).replace("%2F", "/")
        for method in ("GET", "PUT", "DELETE"):
            fuzz.send(
                http,
                method,
                path,
                body=json.dumps(REGISTRATION),
                content_type="application/json",
                headers=bearer,
            )
    for header in AUTH_HEADERS:
        fuzz.send(http, "GET", f"/oauth2/register/{client_id}", headers={"Authorization": header})
    document = {**REGISTRATION, "client_id": client_id}
    for name in [*document, "client_secret", "registration_access_token"]:
        for value in json_values:
            fuzz.send(
                http,
                "PUT",
                f"/oauth2/register/{client_id}",
                body=json.dumps({**document, name: value}),
                content_type="application/json",
                headers=bearer,
            )
    fuzz.send(http, "DELETE", f"/oauth2/register/{client_id}", headers=bearer)
    fuzz.done()


def test_documents_and_pages(world):
    """Discovery, JWKS, the sign-in page and form, the account pages, the small pages."""
    fuzz = world.fuzz
    for path in (
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/jwks",
        "/healthz",
        "/readyz",
        "/",
        "/logged-out",
        "/static/style.css",
        "/dev/mail",
        "/favicon.ico",
    ):
        for _name, params in variants({}, ["x", "callback", "format"], world.values):
            fuzz.send(world.browser(signed_in=False), "GET", path, params)
    signed_out = world.browser(signed_in=False)
    for _name, params in variants({"next": "/account/"}, ["next"], world.values):
        for code in ("vi", "en", "xx", "😀", "%ff", "a" * 5000):
            fuzz.send(signed_out, "GET", "/lang/" + quote(code), params)
    for value in world.values:
        if value and "\x00" not in value:
            fuzz.send(signed_out, "GET", "/static/" + encode(value).replace("%2F", "/"))
    # The development mailbox (development only): any message id, existing or not.
    for value in ["1", "0", "-1", "99999999999999999999", *world.values]:
        if value and "\x00" not in value:
            fuzz.send(signed_out, "GET", "/dev/mail/" + encode(value))
            fuzz.send(signed_out, "GET", "/dev/mail/" + encode(value) + "/html")
    for _name, params in variants(
        {"next": "/account/", "login_hint": EMAIL},
        ["next", "login_hint", "force", "acr", "step_up", "enrol"],
        world.values,
    ):
        fuzz.send(signed_out, "GET", "/login", params)
    # The account pages, signed in: sign-out, the sessions, the applications.
    http = world.browser()
    world.tokens(http)
    fuzz.send(http, "GET", "/account/")
    for path, base in [
        ("/account/sessions/end", {"sid": "x"}),
        ("/account/sessions/end-all", {}),
        ("/account/apps/withdraw", {"client_id": "outside"}),
        ("/logout", {}),
    ]:
        csrf = world.csrf(http, "/account/")
        for _name, params in variants(base, [*base, "csrf_token"], world.values):
            if not any(k == "csrf_token" for k, _v in params):
                params = [*params, ("csrf_token", csrf)]
            response = fuzz.send(http, "POST", path, params)
            if http is not (http := world.still_signed_in(http, response)):
                csrf = world.csrf(http, "/account/")
            fuzz.send(http, "GET", path, params)
    fuzz.done()


def test_sign_in_form(world):
    """Wrong passwords for an unknown address, from an address of their own: the throttle
    answers some of them with 429, which is fine, but must not hold the fuzz's own user."""
    fuzz = world.fuzz
    form = {
        "email": "khong.co@haugiang.gov.vn",
        "password": "sai-mat-khau",
        "next": "/account/",
        "remember": "y",
    }
    for _name, params in variants(form, [*form, "csrf_token"], world.values):
        http = world.app.test_client()
        http.environ_base["REMOTE_ADDR"] = "192.0.2.7"
        if not any(k == "csrf_token" for k, _v in params):
            params = [*params, ("csrf_token", world.csrf(http))]
        fuzz.send(http, "POST", "/login", params)
    fuzz.done()


def test_page_forms_with_file_parts(world):
    """Every field of every page form sent as a file part of a multipart body (issue 8
    review, F6: a file in the sign-in form's email field was a TypeError, a 500)."""
    fuzz = world.fuzz
    http = world.browser()
    base = {**authorization_base("outside"), "scope": "openid email"}
    page = http.get("/oauth2/authorize?" + query(list(base.items()))).get_data(as_text=True)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    consent = {**base, "csrf_token": csrf_token(page), "consent_action": "allow", **fields}
    page = http.get("/oauth2/logout?client_id=webmail").get_data(as_text=True)
    confirm = {"client_id": "webmail", "logout_confirm": "1", "csrf_token": csrf_token(page)}
    signed_out = world.browser(signed_in=False)
    sign_in = {"email": EMAIL, "password": "x", "csrf_token": world.csrf(signed_out)}
    account = {"sid": "x", "client_id": "outside", "csrf_token": world.csrf(http, "/account/")}
    for browser, path, form in [
        (signed_out, "/login", sign_in),
        (http, "/oauth2/authorize", consent),
        (http, "/oauth2/logout", confirm),
        (http, "/account/sessions/end", account),
        (http, "/account/sessions/end-all", account),
        (http, "/account/apps/withdraw", account),
        (http, "/logout", account),
    ]:
        for name in form:
            for content in (b"", b"x" * 5000, b"\xff\x00"):
                data = {**form, name: (io.BytesIO(content), "f.txt")}
                response = browser.post(path, data=data, content_type="multipart/form-data")
                fuzz.check(response, f"POST {path} multipart with {name} as a file")
    fuzz.done()


def test_second_factor_pages(world, make_user):
    """The factor page with and without a pending sign-in (a fresh one every few codes:
    five wrong ones lock it), a step-up, and the account page's second-factor forms."""
    from helpers.factors import enrol

    fuzz = world.fuzz
    make_user("factor@haugiang.gov.vn", PASSWORD, given_name="Hai")
    enrol(world.app, "factor@haugiang.gov.vn")
    signed_out = world.browser(signed_in=False)
    fuzz.send(signed_out, "GET", "/login/factor")
    waiting = None
    for number, (_name, params) in enumerate(
        variants({"code": "123456"}, ["code", "csrf_token"], world.values)
    ):
        if number % 4 == 0:
            waiting = world.app.test_client()
            sign_in(waiting, "factor@haugiang.gov.vn", PASSWORD)
        if not any(k == "csrf_token" for k, _v in params):
            params = [*params, ("csrf_token", world.csrf(waiting))]
        fuzz.send(waiting, "POST", "/login/factor", params)
        fuzz.send(signed_out, "POST", "/login/factor", params)
    # A signed-in person: step-up and the account page's forms.
    http = world.browser()
    for _name, params in variants(
        {"step_up": "1", "next": "/account/"}, ["step_up", "next", "enrol"], world.values
    ):
        fuzz.send(http, "GET", "/login", params)
    fuzz.send(http, "GET", "/account/security/totp")
    for path, base in [
        ("/account/security/totp", {"code": "123456"}),
        ("/account/security/totp/remove", {}),
        ("/account/security/recovery-codes", {}),
    ]:
        csrf = world.csrf(http, "/account/")
        for _name, params in variants(base, [*base, "csrf_token"], world.values):
            if not any(k == "csrf_token" for k, _v in params):
                params = [*params, ("csrf_token", csrf)]
            fuzz.send(http, "POST", path, params)


def test_passkey_endpoints(world):
    """The passkey ceremonies and actions (idp.passkeys.views): hostile JSON fields and
    bodies, form fields and ids, signed in and out, with and without CSRF tokens."""
    fuzz = world.fuzz
    signed_out, http = world.browser(signed_in=False), world.browser()
    fields = ("credential", "name", "next")
    for browser, page, paths in (
        (signed_out, "/login", ("/login/passkey/options", "/login/passkey")),
        (http, "/account/", ("/account/passkeys/options", "/account/passkeys")),
    ):
        csrf = world.csrf(browser, page)
        headers = {"X-CSRFToken": csrf}
        for path in paths:
            for value in world.values:
                for body in (
                    json.dumps({name: value for name in fields}),
                    json.dumps({"credential": {"id": value, "rawId": value, "response": value}}),
                    value,
                ):
                    fuzz.send(
                        browser,
                        "POST",
                        path,
                        body=body,
                        content_type="application/json",
                        headers=headers,
                    )
            fuzz.send(
                browser,
                "POST",
                path,
                body=b"\xff\xfe",
                content_type="application/json",
                headers=headers,
            )
            fuzz.send(browser, "GET", path)
    csrf = world.csrf(http, "/account/")
    for passkey_id in ("1", "0", "99999999999999999999", "-1", "x"):
        for action in ("rename", "remove"):
            path = f"/account/passkeys/{passkey_id}/{action}"
            for _name, params in variants({"name": "Khóa"}, ["name", "csrf_token"], world.values):
                if not any(k == "csrf_token" for k, _v in params):
                    params = [*params, ("csrf_token", csrf)]
                fuzz.send(http, "POST", path, params)
            fuzz.send(signed_out, "POST", path, [("csrf_token", csrf)])


def test_password_pages(world):
    """ "Quên mật khẩu?", the pages of the links (any token, and a real one's form with
    every field fuzzed) and the change of password (docs/accounts.md)."""
    fuzz = world.fuzz
    signed_out = world.browser(signed_in=False)
    signed_out.environ_base["REMOTE_ADDR"] = "192.0.2.9"
    for _name, params in variants({"email": EMAIL}, ["email"], world.values):
        fuzz.send(signed_out, "GET", "/password/forgot", params)
    for value in world.values:
        if value and "\x00" not in value:
            for prefix in ("/activate/", "/password/reset/"):
                fuzz.send(signed_out, "GET", prefix + encode(value))
    csrf = world.csrf(signed_out, "/password/forgot")
    fuzz.send(signed_out, "POST", "/password/forgot", [("email", EMAIL), ("csrf_token", csrf)])
    link = last_link(world.app, EMAIL)
    for _name, params in variants({"email": EMAIL}, ["email", "csrf_token"], world.values):
        if not any(k == "csrf_token" for k, _v in params):
            params = [*params, ("csrf_token", csrf)]
        fuzz.send(signed_out, "POST", "/password/forgot", params)
    form = {"password": "Một-cụm-từ-mới-2027", "confirm": "khác", "username": EMAIL}
    for _name, params in variants(form, [*form, "csrf_token"], world.values):
        if not any(k == "csrf_token" for k, _v in params):
            params = [*params, ("csrf_token", csrf)]
        fuzz.send(signed_out, "POST", link, params)
    http = world.browser()
    csrf = world.csrf(http, "/account/")
    form = {"current": "sai", "password": "Một-cụm-từ-mới-2027", "confirm": "khác"}
    for _name, params in variants(form, [*form, "csrf_token"], world.values):
        if not any(k == "csrf_token" for k, _v in params):
            params = [*params, ("csrf_token", csrf)]
        fuzz.send(http, "POST", "/password/change", params)
        fuzz.send(http, "GET", "/password/change", params)
    for browser, path, fields in [
        (signed_out, "/password/forgot", {"email": EMAIL}),
        (signed_out, link, form),
        (http, "/password/change", form),
    ]:
        for name in [*fields, "csrf_token"]:
            for content in (b"", b"x" * 5000, b"\xff\x00"):
                data = {**fields, "csrf_token": csrf, name: (io.BytesIO(content), "f.txt")}
                response = browser.post(path, data=data, content_type="multipart/form-data")
                fuzz.check(response, f"POST {path} multipart with {name} as a file")
    fuzz.done()


def test_passkey_factor_endpoints(world, make_user):
    """A passkey as the second factor and as a first factor enrolled while signing in
    (idp.interaction.views): hostile JSON with and without a pending sign-in (a fresh one
    every few answers: five refused ones lock it)."""
    from helpers.authenticator import Authenticator
    from helpers.passkeys import enrol as enrol_passkey
    from helpers.session_flow import signed_in_browser

    fuzz = world.fuzz
    make_user("pk@haugiang.gov.vn", PASSWORD, given_name="Khóa")
    enrol_passkey(signed_in_browser(world.app, "pk@haugiang.gov.vn"), Authenticator())
    make_user("admin@haugiang.gov.vn", PASSWORD, given_name="Quản", roles=["admin"])
    signed_out = world.browser(signed_in=False)
    fields = ("credential", "name")
    cases = (
        ("pk@haugiang.gov.vn", ("/login/factor/passkey/options", "/login/factor/passkey")),
        (
            "admin@haugiang.gov.vn",
            ("/login/factor/passkey/new/options", "/login/factor/passkey/new"),
        ),
    )
    for email, paths in cases:
        for path in paths:
            for number, value in enumerate(world.values):
                if number % 4 == 0:
                    waiting = world.app.test_client()
                    sign_in(waiting, email, PASSWORD)
                    headers = {"X-CSRFToken": world.csrf(waiting, "/login/factor")}
                for body in (
                    json.dumps({name: value for name in fields}),
                    json.dumps({"credential": {"id": value, "rawId": value, "response": value}}),
                    value,
                ):
                    for browser in (waiting, signed_out):
                        fuzz.send(
                            browser,
                            "POST",
                            path,
                            body=body,
                            content_type="application/json",
                            headers=headers,
                        )
            fuzz.send(waiting, "GET", path)
    fuzz.done()


def test_console_people_and_audit(world, make_user):
    """The console's people and audit pages (idp.admin.people, idp.admin.audit_log): every
    search and filter parameter, a person's sub and each action's form fields, as a
    super-administrator."""
    from helpers.admin import make_admin

    fuzz = world.fuzz
    admin = world.app.test_client()
    make_admin(world.app, make_user, admin)
    person = make_user("muc.tieu@haugiang.gov.vn", PASSWORD, given_name="Tiêu")
    fuzz.send(admin, "GET", "/admin/")
    search = {"q": "nguyen", "unit": "", "status": "active", "offset": "0"}
    for _name, params in variants(search, list(search), world.values):
        fuzz.send(admin, "GET", "/admin/people", params)
    filters = {"subject": person, "actor": "", "client": "webmail", "action": "login"}
    filters |= {"outcome": "success", "ip": "10.", "from": "01/12/2026", "to": "", "before": ""}
    for _name, params in variants(filters, list(filters), world.values):
        fuzz.send(admin, "GET", "/admin/audit", params)
        fuzz.send(admin, "GET", "/admin/audit.csv", params)
    for value in world.values:
        fuzz.send(admin, "GET", "/admin/people/" + quote(value, safe=""))
        fuzz.send(admin, "GET", f"/admin/people/{person}/" + quote(value, safe=""))
    csrf = world.csrf(admin, f"/admin/people/{person}")
    for name in ("end-sessions", "grant-unit", "revoke-unit", "unlock", "remove-upstream-link"):
        fields = {"sid": "x", "unit": "HG", "link": "1", "confirmed": "yes", "csrf_token": csrf}
        hostile = ["sid", "unit", "link", "confirmed"]
        for _name, params in variants(fields, hostile, world.values):
            fuzz.send(admin, "GET", f"/admin/people/{person}/{name}", params)
            fuzz.send(admin, "POST", f"/admin/people/{person}/{name}", params)


def test_admin_application_pages(world, make_user):
    """The console's applications, keys and deliveries pages (idp.admin): hostile values in
    every form field, filter and path, signed in as a super-administrator."""
    from helpers.admin import make_admin

    fuzz = world.fuzz
    http = world.app.test_client()
    make_admin(world.app, make_user, http)
    csrf = world.csrf(http, "/admin/clients/new")
    form = {
        "client_id": "moi",
        "client_name": "Ứng dụng",
        "application_type": "web",
        "token_endpoint_auth_method": "client_secret_basic",
        "redirect_uris": "https://moi.example/cb",
        "post_logout_redirect_uris": "https://moi.example/",
        "grant_types": "authorization_code",
        "scope": "openid",
        "allowed_audiences": "https://api.example",
        "backchannel_logout_uri": "https://moi.example/bc",
        "backchannel_logout_session_required": "1",
        "default_acr_values": "urn:hg:loa:2",
        "first_party": "1",
        "access_token_ttl": "600",
        "jwks_uri": "https://moi.example/jwks",
        "contacts": "it@haugiang.gov.vn",
    }
    fuzz.send(http, "GET", "/admin/")
    for path in ("/admin/clients/new", "/admin/clients/webmail/edit"):
        for _name, params in variants(form, list(form), world.values):
            fuzz.send(http, "POST", path, [*params, ("csrf_token", csrf)])
    for value in world.values:
        if isinstance(value, str) and value:
            segment = quote(value, safe="")[:3000]
            for suffix in ("", "/edit", "/rotate-secret", "/disable", "/manifest.json"):
                fuzz.send(http, "GET", f"/admin/clients/{segment}{suffix}")
        for path, fields in (
            ("/admin/clients/import", ("manifest_name", "manifest_body", "confirm")),
            ("/admin/clients/registration-tokens", ("expires_in", "uses", "note")),
            ("/admin/keys/rotate", ("alg", "force")),
            ("/admin/deliveries/logout/retry", ("id", "client_id")),
            ("/admin/deliveries/mail/retry", ("id",)),
        ):
            for name in fields:
                fuzz.send(http, "POST", path, [(name, value), ("csrf_token", csrf)])
                fuzz.send(http, "GET", path, [(name, value)])
        for name in ("logout_status", "client_id", "mail_status", "recipient"):
            fuzz.send(http, "GET", "/admin/deliveries", [(name, value)])
    encoded = base64.b64encode(b'client_id = "x"\nredirect_uris = ["javascript:1"]').decode()
    fuzz.send(
        http,
        "POST",
        "/admin/clients/import",
        [("manifest_name", "../../x.toml"), ("manifest_body", encoded), ("csrf_token", csrf)],
    )
    for content in (b"", b"x" * 300_000, b"\xff\x00", b"[[[[", b'{"client_id": 1}'):
        for name in ("a.toml", "a.json", "../a.yaml", ".hidden", ""):
            data = {"csrf_token": csrf, "manifests": (io.BytesIO(content), name)}
            response = http.post(
                "/admin/clients/import", data=data, content_type="multipart/form-data"
            )
            fuzz.check(response, f"POST /admin/clients/import with file {name!r}")
    for path in (
        "/admin/clients",
        "/admin/clients/export.zip",
        "/admin/keys",
        "/admin/clients/registration-tokens/99/revoke",
        "/admin/clients/registration-tokens/99999999999999999999999/revoke",
    ):
        fuzz.send(http, "GET", path)
        fuzz.send(http, "POST", path, [("csrf_token", csrf)])
    fuzz.done()


def test_admin_api_applications(world):
    """The admin API's applications, registration tokens, keys and deliveries with hostile
    path segments, query parameters and JSON bodies (schemathesis adds generated input)."""
    fuzz = world.fuzz
    add_client(
        world.app,
        "automation-apps",
        grant_types=["client_credentials"],
        response_types=[],
        redirect_uris=[],
        scope="admin:read admin:write",
        admin_automation=True,
    )
    http = world.app.test_client()
    answer = http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers=basic("automation-apps"),
    )
    bearer = {"Authorization": "Bearer " + answer.get_json()["access_token"]}
    api = "/admin/api/v1"
    for value in world.values:
        if isinstance(value, str) and value and "/" not in value:
            segment = quote(value, safe="")[:3000]
            fuzz.send(http, "GET", f"{api}/clients/{segment}", headers=bearer)
            fuzz.send(http, "DELETE", f"{api}/registration-tokens/{segment}", headers=bearer)
        for path, names in (
            ("/clients", ["active", "limit", "cursor"]),
            ("/deliveries/logout", ["status", "client_id", "limit", "cursor"]),
            ("/deliveries/mail", ["status", "recipient", "limit", "cursor"]),
        ):
            for name in names:
                fuzz.send(http, "GET", api + path, [(name, value)], headers=bearer)
    bodies = [DEEP_OBJECT, "[]", "null", '"x"', "{", json.dumps({"ids": [1e300, -1, "1"]})]
    plain = [v for v in world.values if isinstance(v, str) and not isinstance(v, Raw)][:12]
    for name in ("redirect_uris", "client_id", "scope", "access_token_ttl", "jwks", "note"):
        for value in [*plain, [], {}, 10**30, -1, 1.5, None, True]:
            bodies.append(json.dumps({name: value, "ids": [2**40], "alg": value}))
    for body in bodies:
        for method, path in (
            ("POST", "/clients"),
            ("PATCH", "/clients/webmail"),
            ("POST", "/registration-tokens"),
            ("POST", "/keys/rotate"),
            ("POST", "/deliveries/logout/retry"),
            ("POST", "/deliveries/mail/retry"),
        ):
            fuzz.send(
                http,
                method,
                api + path,
                body=body,
                content_type="application/json",
                headers=bearer,
            )
    fuzz.done()


def test_admin_api_and_console(world, make_unit):
    """The admin API with hostile credentials, parameters and bodies, and the console's
    entry page: problem objects, never a 5xx (its generated input: tests/admin, schemathesis)."""
    fuzz = world.fuzz
    make_unit("HG", kind="province")
    add_client(
        world.app,
        "automation",
        grant_types=["client_credentials"],
        response_types=[],
        redirect_uris=[],
        scope="admin:read admin:write",
        admin_automation=True,
    )
    http = world.app.test_client()
    answer = http.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, headers=basic("automation")
    )
    token = answer.get_json()["access_token"]
    paths = ["/admin/api/v1/me", "/admin/api/v1/units", "/admin/api/v1/units/HG"]
    headers = [*AUTH_HEADERS, *("Bearer " + v for v in world.values if "\n" not in v)]
    for header in headers:
        fuzz.send(http, "GET", paths[0], headers={"Authorization": header})
    bearer = {"Authorization": f"Bearer {token}"}
    names = ["parent", "search", "active", "limit", "cursor"]
    for _name, params in variants({"limit": "2"}, names, world.values):
        fuzz.send(http, "GET", "/admin/api/v1/units", params, headers=bearer)
    for value in world.values:
        if isinstance(value, str) and "/" not in value:
            fuzz.send(http, "GET", "/admin/api/v1/units/" + quote(value, safe=""), headers=bearer)
    for path in [*paths, "/admin/api/v1/openapi.json", "/admin/api/v1/nothing"]:
        for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            fuzz.send(
                http,
                method,
                path,
                body=DEEP_OBJECT,
                content_type="application/json",
                headers=bearer,
            )
    console = world.browser()
    for _name, params in variants({}, ["next", "x"], world.values[:20]):
        fuzz.send(console, "GET", "/admin/", params)
    fuzz.done()


def _automation_bearer(app, http) -> dict[str, str]:
    add_client(
        app,
        "automation",
        grant_types=["client_credentials"],
        response_types=[],
        redirect_uris=[],
        scope="admin:read admin:write",
        admin_automation=True,
    )
    answer = http.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, headers=basic("automation")
    )
    return {"Authorization": "Bearer " + answer.get_json()["access_token"]}


def test_units_console_and_api(world, make_unit, make_user):
    """The Units pages (a super-administrator at the console's level) and the units' write
    endpoints of the admin API, with hostile codes, names and bodies: never a 5xx."""
    from helpers.admin import make_admin

    fuzz = world.fuzz
    make_unit("HG", kind="province")
    make_unit("STC", parent="HG")
    make_unit("CT", kind="district", parent="HG")
    console = world.app.test_client()
    make_admin(world.app, make_user, console)
    token = csrf_token(console.get("/admin/units/STC").get_data(as_text=True))
    texts = [v for v in world.values if isinstance(v, str)]
    fuzz.send(console, "GET", "/admin/units")
    for value in texts:
        quoted = quote(value, safe="")
        if "/" not in value:
            fuzz.send(console, "GET", "/admin/units/" + quoted)
            fuzz.send(console, "POST", f"/admin/units/{quoted}/deactivate", [("csrf_token", token)])
        for action, name in (("rename", "name"), ("move", "parent"), ("merge", "target")):
            for confirmed in ("", "yes"):
                fields = [("csrf_token", token), (name, value), ("confirmed", confirmed)]
                fuzz.send(console, "POST", f"/admin/units/STC/{action}", fields)
    fuzz.send(
        console,
        "POST",
        "/admin/units/STC/rename",
        body=DEEP_OBJECT,
        content_type="application/json",
    )
    http = world.app.test_client()
    bearer = _automation_bearer(world.app, http)
    fuzz.send(http, "GET", "/admin/api/v1/unit-tree", headers=bearer)
    bodies = [DEEP_OBJECT, "[]", "null", "1", '"x"', "{"]
    for value in [*texts[:40], None, 1, [], {}, True]:
        for name in ("name", "parent", "into"):
            bodies.append(json.dumps({name: value}))
    for action in ("rename", "move", "merge", "deactivate"):
        for body in bodies:
            fuzz.send(
                http,
                "POST",
                f"/admin/api/v1/units/CT/{action}",
                body=body,
                content_type="application/json",
                headers=bearer,
            )
        for value in texts[:40]:
            if "/" not in value:
                path = f"/admin/api/v1/units/{quote(value, safe='')}/{action}"
                fuzz.send(
                    http, "POST", path, body="{}", content_type="application/json", headers=bearer
                )
    fuzz.done()


# Brokered sign-in's pages need an upstream provider running: fuzzed beside its attacks.
UPSTREAM_PAGES = "test_upstream_attacks.py::test_hostile_parameters_never_break_the_pages"
# The link step, linked accounts and upstream sign-out, with the national portal stand-in.
UPSTREAM_LINK_PAGES = (
    "test_upstream_link_fuzz.py::test_hostile_values_never_break_the_link_and_sign_out_pages"
)
# Every route of the app and the test above that fuzzes it.
FUZZED_ROUTES = {
    "/": "test_documents_and_pages",
    "/admin/": "test_admin_api_and_console, test_admin_application_pages",
    "/admin/api/v1/me": "test_admin_api_and_console",
    "/admin/api/v1/openapi.json": "test_admin_api_and_console",
    "/admin/api/v1/units": "test_admin_api_and_console",
    "/admin/api/v1/units/<code>": "test_admin_api_and_console",
    "/admin/api/v1/unit-tree": "test_units_console_and_api",
    "/admin/api/v1/units/<code>/rename": "test_units_console_and_api",
    "/admin/api/v1/units/<code>/move": "test_units_console_and_api",
    "/admin/api/v1/units/<code>/merge": "test_units_console_and_api",
    "/admin/api/v1/units/<code>/deactivate": "test_units_console_and_api",
    "/admin/units": "test_units_console_and_api",
    "/admin/units/<code>": "test_units_console_and_api",
    "/admin/units/<code>/rename": "test_units_console_and_api",
    "/admin/units/<code>/move": "test_units_console_and_api",
    "/admin/units/<code>/merge": "test_units_console_and_api",
    "/admin/units/<code>/deactivate": "test_units_console_and_api",
    "/admin/clients": "test_admin_application_pages",
    "/admin/clients/<client_id>": "test_admin_application_pages",
    "/admin/clients/<client_id>/disable": "test_admin_application_pages",
    "/admin/clients/<client_id>/edit": "test_admin_application_pages",
    "/admin/clients/<client_id>/enable": "test_admin_application_pages",
    "/admin/clients/<client_id>/manifest.json": "test_admin_application_pages",
    "/admin/clients/<client_id>/rotate-secret": "test_admin_application_pages",
    "/admin/clients/export.zip": "test_admin_application_pages",
    "/admin/clients/import": "test_admin_application_pages",
    "/admin/clients/new": "test_admin_application_pages",
    "/admin/clients/registration-tokens": "test_admin_application_pages",
    "/admin/clients/registration-tokens/<int:token_id>/revoke": "test_admin_application_pages",
    "/admin/deliveries": "test_admin_application_pages",
    "/admin/deliveries/logout/retry": "test_admin_application_pages",
    "/admin/deliveries/mail/retry": "test_admin_application_pages",
    "/admin/keys": "test_admin_application_pages",
    "/admin/keys/rotate": "test_admin_application_pages",
    "/admin/api/v1/clients": "test_admin_api_applications",
    "/admin/api/v1/clients/<client_id>": "test_admin_api_applications",
    "/admin/api/v1/clients/<client_id>/disable": "test_admin_api_applications",
    "/admin/api/v1/clients/<client_id>/enable": "test_admin_api_applications",
    "/admin/api/v1/clients/<client_id>/rotate-secret": "test_admin_api_applications",
    "/admin/api/v1/deliveries/logout": "test_admin_api_applications",
    "/admin/api/v1/deliveries/logout/retry": "test_admin_api_applications",
    "/admin/api/v1/deliveries/mail": "test_admin_api_applications",
    "/admin/api/v1/deliveries/mail/retry": "test_admin_api_applications",
    "/admin/api/v1/keys": "test_admin_api_applications",
    "/admin/api/v1/keys/rotate": "test_admin_api_applications",
    "/admin/api/v1/registration-tokens": "test_admin_api_applications",
    "/admin/api/v1/registration-tokens/<token_id>": "test_admin_api_applications",
    "/.well-known/oauth-authorization-server": "test_documents_and_pages",
    "/.well-known/openid-configuration": "test_documents_and_pages",
    "/account/": "test_documents_and_pages",
    "/admin/people": "test_console_people_and_audit",
    "/admin/people/<sub>": "test_console_people_and_audit",
    "/admin/people/<sub>/<name>": "test_console_people_and_audit",
    "/admin/audit": "test_console_people_and_audit",
    "/admin/audit.csv": "test_console_people_and_audit",
    # The admin API's people and audit: schemathesis, over every operation of its document.
    **{
        "/admin/api/v1" + path: "tests/admin/test_api_openapi.py"
        for path in (
            "/people",
            "/people/<sub>",
            "/audit",
            *(
                f"/people/<sub>/{name}"
                for name in (
                    "disable",
                    "enable",
                    "unlock",
                    "send-activation",
                    "send-reset",
                    "reset-factors",
                    "end-sessions",
                    "remove-upstream-link",
                )
            ),
        )
    },
    "/account/apps/withdraw": "test_documents_and_pages",
    "/account/security/recovery-codes": "test_second_factor_pages",
    "/account/security/totp": "test_second_factor_pages",
    "/account/security/totp/remove": "test_second_factor_pages",
    "/account/passkeys": "test_passkey_endpoints",
    "/account/passkeys/<int:passkey_id>/remove": "test_passkey_endpoints",
    "/account/passkeys/<int:passkey_id>/rename": "test_passkey_endpoints",
    "/account/passkeys/options": "test_passkey_endpoints",
    "/account/sessions/end": "test_documents_and_pages",
    "/account/sessions/end-all": "test_documents_and_pages",
    "/account/upstream-links/<int:link_id>/remove": UPSTREAM_LINK_PAGES,
    "/dev/mail": "test_documents_and_pages",
    "/dev/mail/<int:message_id>": "test_documents_and_pages",
    "/dev/mail/<int:message_id>/html": "test_documents_and_pages",
    "/favicon.ico": "test_documents_and_pages",
    "/healthz": "test_documents_and_pages",
    "/jwks": "test_documents_and_pages",
    "/lang/<code>": "test_documents_and_pages",
    "/logged-out": "test_documents_and_pages",
    "/login": "test_documents_and_pages, test_sign_in_form, test_page_forms_with_file_parts",
    "/login/factor": "test_second_factor_pages",
    "/login/factor/passkey": "test_passkey_factor_endpoints",
    "/login/factor/passkey/new": "test_passkey_factor_endpoints",
    "/login/factor/passkey/new/options": "test_passkey_factor_endpoints",
    "/login/factor/passkey/options": "test_passkey_factor_endpoints",
    "/login/passkey": "test_passkey_endpoints",
    "/login/passkey/options": "test_passkey_endpoints",
    "/login/upstream/<name>": UPSTREAM_PAGES,
    "/login/upstream/<name>/callback": UPSTREAM_PAGES,
    "/login/upstream/<name>/link": UPSTREAM_PAGES,
    "/login/upstream/<name>/link/confirm": UPSTREAM_LINK_PAGES,
    "/login/upstream/<name>/link/create": UPSTREAM_LINK_PAGES,
    "/login/upstream/<name>/link/email": UPSTREAM_LINK_PAGES,
    "/login/upstream/<name>/link/prove": UPSTREAM_LINK_PAGES,
    "/login/upstream/<name>/logged-out": UPSTREAM_LINK_PAGES,
    "/login/upstream/<name>/backchannel-logout": UPSTREAM_LINK_PAGES,
    "/logout": "test_documents_and_pages",
    "/oauth2/authorize": "test_authorization_endpoint, test_consent_form",
    "/oauth2/introspect": "test_introspection_and_revocation",
    "/oauth2/logout": "test_end_session",
    "/oauth2/register": "test_registration_and_management",
    "/oauth2/register/<client_id>": "test_registration_and_management",
    "/oauth2/revoke": "test_introspection_and_revocation",
    "/oauth2/token": "test_token_endpoint",
    "/oauth2/userinfo": "test_userinfo",
    "/activate/<token>": "test_password_pages",
    "/password/change": "test_password_pages",
    "/password/forgot": "test_password_pages",
    "/password/reset/<token>": "test_password_pages",
    "/readyz": "test_documents_and_pages",
    "/static/<path:filename>": "test_documents_and_pages",
}


def test_every_route_is_fuzzed(sqlite_app):
    routes = {rule.rule for rule in sqlite_app.url_map.iter_rules()}
    assert routes == set(FUZZED_ROUTES), "fuzz the new routes here: " + ", ".join(
        sorted(routes ^ set(FUZZED_ROUTES))
    )


# ---------------------------------------------------------------- generated values

ENDPOINT_FIELDS = (
    [("GET", "/oauth2/authorize", name) for name in AUTHORIZATION_PARAMETERS]
    + [("POST", "/oauth2/token", name) for name in ("grant_type", "code", "redirect_uri", "scope")]
    + [("GET", "/oauth2/logout", name) for name in END_SESSION_PARAMETERS[:6]]
)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_generated_values(world):
    """Hypothesis draws text (any code point), JSON nested at random, and values built
    from the valid ones, for parameters of the three endpoints that parse the most."""
    fuzz = world.fuzz
    http = world.browser()
    base = authorization_base()
    text = st.text(max_size=300) | st.binary(max_size=200).map(
        lambda b: Raw("".join(f"%{byte:02x}" for byte in b))
    )
    json_text = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=30,
    ).map(json.dumps)
    mutated = st.sampled_from(list(base.values()) + [NATIVE_REDIRECT, POST_LOGOUT]).flatmap(
        lambda valid: st.tuples(st.integers(0, len(valid)), text).map(
            lambda cut: valid[: cut[0]] + cut[1] + valid[cut[0] :]
        )
    )

    @settings(
        max_examples=250,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.sampled_from(ENDPOINT_FIELDS), text | json_text | mutated)
    def one(target, value):
        method, path, name = target
        start = base if path == "/oauth2/authorize" else {}
        params = [*((k, v) for k, v in start.items() if k != name), (name, value)]
        fuzz.send(http, method, path, params)

    one()
    fuzz.done()
