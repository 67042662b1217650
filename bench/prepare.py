"""Fixtures for the benchmarks: a user, clients and tokens, made through the real endpoints."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from idp.limits import LIMIT_SETTINGS

EMAIL = "bench.user@haugiang.gov.vn"
PASSWORD = "Ghế-đá-công-viên-2026"  # noqa: S105  (a benchmark fixture)
REDIRECT = "http://127.0.0.1:9/cb"
VERIFIER = "bench-verifier-" + "x" * 40
# The rate limits (idp.limits) out of reach: the benchmark's one client at one address
# measures the endpoints, not the limits; every call still passes through the limiter.
UNLIMITED = {key: "100000000 per minute" for key in LIMIT_SETTINGS}


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@dataclass
class Fixtures:
    base: str
    config: dict
    web_basic: str
    machine_basic: str
    cookie: str
    access_token: str
    tokens_file: Path
    workdir: Path
    extra: dict = field(default_factory=dict)
    # The server's environment (bench.run.serving).
    env: dict = field(default_factory=dict)

    def path(self, key: str) -> str:
        return urlsplit(self.config[key]).path

    def scenario(self, name: str) -> tuple[str, str, dict[str, str]]:
        """(lua script, target path, environment) for one scenario."""
        if name == "discovery":
            return "get.lua", "/.well-known/openid-configuration", {}
        if name == "jwks":
            return "get.lua", self.path("jwks_uri") if "jwks_uri" in self.config else "/jwks", {}
        if name == "client_credentials":
            return (
                "cc.lua",
                "/",
                {"BENCH_BASIC": self.machine_basic, "BENCH_PATH": self.path("token_endpoint")},
            )
        if name == "introspection":
            return (
                "introspect.lua",
                "/",
                {
                    "BENCH_BASIC": self.machine_basic,
                    "BENCH_PATH": self.path("introspection_endpoint"),
                    "BENCH_TOKEN": self.access_token,
                },
            )
        if name == "userinfo":
            return (
                "userinfo.lua",
                "/",
                {"BENCH_PATH": self.path("userinfo_endpoint"), "BENCH_TOKEN": self.access_token},
            )
        if name == "refresh":
            return (
                "refresh.lua",
                "/",
                {
                    "BENCH_BASIC": self.web_basic,
                    "BENCH_PATH": self.path("token_endpoint"),
                    "BENCH_TOKENS_FILE": str(self.tokens_file),
                },
            )
        if name == "sso_hop":
            return (
                "sso_hop.lua",
                "/",
                {
                    "BENCH_AUTHORIZE": self.authorize_path(),
                    "BENCH_COOKIE": self.cookie,
                    "BENCH_PATH": self.path("token_endpoint"),
                    "BENCH_BASIC": self.web_basic,
                    "BENCH_REDIRECT": REDIRECT,
                    "BENCH_VERIFIER": VERIFIER,
                },
            )
        if name == "signin":
            return "signin.lua", "/", {"BENCH_EMAIL": EMAIL, "BENCH_PASSWORD": PASSWORD}
        raise KeyError(name)

    def authorize_path(self, scope: str = "openid profile email offline_access") -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": "bench-web",
                "redirect_uri": REDIRECT,
                "scope": scope,
                "state": "s",
                "nonce": "n",
                "code_challenge": _challenge(VERIFIER),
                "code_challenge_method": "S256",
            }
        )
        return self.path("authorization_endpoint") + "?" + query


def _register(env: dict[str, str], id_token_alg: str | None = None) -> tuple[str, str]:
    """Create the user and two clients directly in the database; returns the secrets.

    The web client gets RS256 ID tokens (the OpenID Connect default) unless `id_token_alg`
    registers another (id_token_signed_response_alg)."""
    from idp import create_app
    from idp.clients.models import Client, hash_secret
    from idp.directory.models import User
    from idp.directory.passwords import hash_password
    from idp.directory.store import set_addresses
    from idp.extensions import db

    app = create_app(
        {
            "DATABASE_URL": env["IDP_DATABASE_URL"],
            "ISSUER": env["IDP_ISSUER"],
            "SECRET_KEY": env["IDP_SECRET_KEY"],
            "LOG_LEVEL": "WARNING",
        }
    )
    web_secret, machine_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with app.test_request_context():
        user = User(
            family_name="Trần",
            middle_name="Thị",
            given_name="Bích",
            password_hash=hash_password(PASSWORD),
        )
        set_addresses(user, EMAIL, [])
        db.session.add(user)
        db.session.add(
            Client(
                client_id="bench-web",
                client_secret_hash=hash_secret(web_secret),
                first_party=True,
                client_metadata={
                    "client_name": "Bench web",
                    "redirect_uris": [REDIRECT],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "client_secret_basic",
                    "scope": "openid profile email phone org offline_access",
                    **({"id_token_signed_response_alg": id_token_alg} if id_token_alg else {}),
                },
            )
        )
        db.session.add(
            Client(
                client_id="bench-machine",
                client_secret_hash=hash_secret(machine_secret),
                first_party=True,
                client_metadata={
                    "client_name": "Bench machine",
                    "redirect_uris": [],
                    "grant_types": ["client_credentials"],
                    "response_types": [],
                    "token_endpoint_auth_method": "client_secret_basic",
                    "scope": "lgsp.read",
                    "allowed_audiences": ["https://lgsp.haugiang.gov.vn"],
                    # The introspection scenario asks about bench-web's access tokens,
                    # whose `aud` is bench-web: a resource server of that audience.
                    "resource_server_audiences": ["bench-web"],
                },
            )
        )
        db.session.commit()
        db.engine.dispose()
    return web_secret, machine_secret


def _sign_in(http: requests.Session, base: str) -> str:
    page = http.get(base + "/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    done = http.post(
        base + "/login",
        data={"csrf_token": token, "email": EMAIL, "password": PASSWORD},
        allow_redirects=False,
    )
    if done.status_code != 302:
        raise SystemExit(f"benchmark sign-in failed with {done.status_code}")
    return "idp_sso=" + http.cookies["idp_sso"]


def _code_flow(http: requests.Session, fx: Fixtures) -> dict:
    hop = http.get(fx.base + fx.authorize_path(), allow_redirects=False)
    location = hop.headers.get("Location", "")
    code = parse_qs(urlsplit(location).query).get("code", [None])[0]
    if not code:
        raise SystemExit(f"authorization did not return a code: {hop.status_code} {location[:200]}")
    answer = requests.post(
        fx.config["token_endpoint"],
        headers={"Authorization": fx.web_basic},
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER,
        },
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()


NEEDS_TOKENS = {"refresh", "introspection", "userinfo", "sso_hop"}


def prepare(
    base: str,
    env: dict[str, str],
    root: Path,
    tokens_needed: int,
    scenarios: list[str],
    id_token_alg: str | None = None,
) -> Fixtures:
    import tempfile

    web_secret, machine_secret = _register(env, id_token_alg)
    config = requests.get(base + "/.well-known/openid-configuration", timeout=10).json()
    http = requests.Session()
    cookie = _sign_in(http, base)
    workdir = Path(tempfile.mkdtemp(prefix="idp-bench-tokens-"))
    fx = Fixtures(
        base=base,
        config=config,
        web_basic=_basic("bench-web", web_secret),
        machine_basic=_basic("bench-machine", machine_secret),
        cookie=cookie,
        access_token="",
        tokens_file=workdir / "refresh.txt",
        workdir=workdir,
    )
    if not NEEDS_TOKENS & set(scenarios):
        return fx
    refresh_tokens = []
    for _ in range(tokens_needed):
        tokens = _code_flow(http, fx)
        refresh_tokens.append(tokens["refresh_token"])
        fx.access_token = tokens["access_token"]
    fx.tokens_file.write_text("\n".join(refresh_tokens) + "\n")
    return fx
