"""The national public-service portal's stand-in for the broker's tests, on 127.0.0.1
(the standard upstreams, this provider and a hostile one, are in helpers.upstreams).

`NationalPortal`: tests/upstreams/national_portal (panva's oidc-provider in Node.js), a
stand-in for the national public-service portal's sign-in: no discovery document,
endpoints under /oauth2/, PascalCase Vietnamese userinfo claims, `acr` LoA1/LoA2 in a thin
ID token, back-channel logout toward its relying parties. Its signing key is made here and
handed to it, so a test can also forge tokens "from the upstream" (`sign`) with claims the
real software would never put in them.

The npm packages are installed once from package-lock.json (`npm ci`) and kept in
node_modules (ignored by git), so later runs start at once; without node or network the
tests are skipped, except with CI=true, where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from typing import Any

import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from helpers.ci import unavailable
from helpers.live import (
    ROOT,
    Browser,
    LiveIdp,
    form_fields,
    free_port,
    node_available,
    npm_ci,
    stop_process,
    wait_until,
)

NATIONAL_PORTAL_DIR = ROOT / "tests" / "upstreams" / "national_portal"
# The button's text on our sign-in page, as the province names the national portal.
NATIONAL_PORTAL_BUTTON = "Đăng nhập bằng tài khoản Cổng Dịch vụ công quốc gia"
# The citizen who signs in at the stand-in in the tests (username "an").
CITIZEN_USERNAME = "an"
CITIZEN = {
    "sub": "np-7f3c2a10-an",
    "SoDinhDanh": "001090001234",
    "HoVaTen": "Nguyễn Văn An",
    "NgayThangNamSinh": "19900115",
    "LoaiTaiKhoan": "1",
    "ThuDienTu": "nguyen.van.an@example.vn",
    "SoDienThoai": "0912345678",
    "TechID": "a1b2c3d4-0000-4000-8000-000000000001",
    "loAs": "LoA2",
}
EVENT_BACKCHANNEL_LOGOUT = "http://schemas.openid.net/event/backchannel-logout"
# The stand-in's endpoints under its issuer (what the portal gives out of band).
AUTHORIZE_PATH = "/oauth2/authorize"
TOKEN_PATH = "/oauth2/token"
USERINFO_PATH = "/oauth2/userinfo"
JWKS_PATH = "/oauth2/jwks"
LOGOUT_PATH = "/oauth2/logout"


def national_portal_ready() -> None:
    """node and npm present and the stand-in's packages installed (skip or, in CI, fail)."""
    reason = node_available() or npm_ci(NATIONAL_PORTAL_DIR, "oidc-provider")
    if reason:
        unavailable(reason)


def portal_client(
    client_id: str,
    secret: str,
    *,
    redirect_uri: str,
    post_logout_redirect_uri: str | None = None,
    backchannel_logout_uri: str | None = None,
) -> dict[str, Any]:
    """A relying party of the stand-in, as the portal registers one (code flow, basic auth)."""
    client: dict[str, Any] = {
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uris": [redirect_uri],
        "response_types": ["code"],
        "grant_types": ["authorization_code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }
    if post_logout_redirect_uri:
        client["post_logout_redirect_uris"] = [post_logout_redirect_uri]
    if backchannel_logout_uri:
        client["backchannel_logout_uri"] = backchannel_logout_uri
        client["backchannel_logout_session_required"] = True
    return client


class NationalPortal:
    """The stand-in in a subprocess on a free port of 127.0.0.1; `stop()` ends it."""

    def __init__(
        self,
        clients: list[dict[str, Any]],
        accounts: dict[str, dict[str, Any]] | None = None,
        *,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": "np-1", "use": "sig"})
        self.accounts = accounts if accounts is not None else {CITIZEN_USERNAME: dict(CITIZEN)}
        env = {
            **os.environ,
            "PORT": str(self.port),
            "ISSUER": self.issuer,
            "CLIENTS": json.dumps(clients),
            "ACCOUNTS": json.dumps(self.accounts, ensure_ascii=False),
            "JWKS": json.dumps({"keys": [self.key.as_dict(private=True, alg="RS256")]}),
        }
        self.process = subprocess.Popen(
            ["node", "server.js"],
            cwd=NATIONAL_PORTAL_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not wait_until(self._answers, seconds=20) or self.process.poll() is not None:
            self.stop()
            raise RuntimeError(f"the national portal stand-in did not start:\n{self.log()}")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            return True
        try:
            return requests.get(self.jwks_uri, timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    # What the province is given out of band (no discovery document).
    @property
    def authorization_endpoint(self) -> str:
        return self.issuer + AUTHORIZE_PATH

    @property
    def token_endpoint(self) -> str:
        return self.issuer + TOKEN_PATH

    @property
    def userinfo_endpoint(self) -> str:
        return self.issuer + USERINFO_PATH

    @property
    def jwks_uri(self) -> str:
        return self.issuer + JWKS_PATH

    @property
    def end_session_endpoint(self) -> str:
        return self.issuer + LOGOUT_PATH

    def sessions(self) -> list[dict[str, Any]]:
        """The stand-in's live sessions: [{uid, accountId, clients: {client_id: sid}}]."""
        return requests.get(self.issuer + "/test/sessions", timeout=5).json()

    def end_sessions_of(self, sub: str) -> dict[str, Any]:
        """End `sub`'s sessions at the portal as if signed out elsewhere: a logout token
        goes to every relying party of them. Its answer: {sent, failed}."""
        answer = requests.post(
            self.issuer + "/test/backchannel-logout", data={"sub": sub}, timeout=15
        )
        answer.raise_for_status()
        return answer.json()

    def sign(self, claims: dict[str, Any], *, typ: str = "logout+jwt") -> str:
        """A JWT signed with the portal's own key: what only the portal could have made."""
        header = {"alg": "RS256", "kid": self.key.kid, "typ": typ}
        return jwt.encode(header, claims, self.key)

    def logout_token(
        self, *, aud: str, sub: str | None = None, sid: str | None = None, **extra
    ) -> dict[str, Any]:
        """The claims of a valid logout token for relying party `aud` (change them to attack)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": aud,
            "iat": now,
            "exp": now + 120,
            "jti": os.urandom(12).hex(),
            "events": {EVENT_BACKCHANNEL_LOGOUT: {}},
        }
        if sub is not None:
            claims["sub"] = sub
        if sid is not None:
            claims["sid"] = sid
        claims.update(extra)
        return claims

    def log(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> None:
        stop_process(self.process)
        self._reader.join(5)
        if self.process.stdout:
            self.process.stdout.close()


def portal_settings(
    issuer: str, *, client_id: str, secret: str, **overrides: Any
) -> dict[str, Any]:
    """The [UPSTREAMS.<name>] table for the stand-in, as docs/integration-upstream.md tells
    the province to write it for the national portal: endpoints one by one (no discovery),
    PascalCase claims mapped to ours, SoDinhDanh as the link key, LoA1/LoA2 as our levels.
    `issuer`: the stand-in's (NationalPortal.issuer, or one for a port chosen beforehand)."""
    entry: dict[str, Any] = {
        "display_name": "tài khoản Cổng Dịch vụ công quốc gia",
        "issuer": issuer,
        "discovery": False,
        "authorization_endpoint": issuer + AUTHORIZE_PATH,
        "token_endpoint": issuer + TOKEN_PATH,
        "userinfo_endpoint": issuer + USERINFO_PATH,
        "jwks_uri": issuer + JWKS_PATH,
        "logout_url": issuer
        + LOGOUT_PATH
        + "?id_token_hint={id_token_hint}&post_logout_redirect_uri={post_logout_redirect_uri}"
        + "&state={state}",
        "backchannel_logout_supported": True,
        "client_id": client_id,
        "client_secret": secret,
        "scopes": ["openid"],
        "acr_values": ["LoA2"],
        "link_claim": "SoDinhDanh",
        "level_claims": ["acr", "loAs"],
        "levels": {"LoA1": "urn:hg:loa:1", "LoA2": "urn:hg:loa:2"},
        "claims": {
            "name": "HoVaTen",
            "birthdate": {"claim": "NgayThangNamSinh", "date_format": "%Y%m%d"},
            "email": "ThuDienTu",
            "phone_number": "SoDienThoai",
            "identification_number": "SoDinhDanh",
            "account_type": "LoaiTaiKhoan",
            "tech_id": "TechID",
        },
        # The stand-in listens on 127.0.0.1.
        "allow_private_addresses": True,
    }
    entry.update(overrides)
    return entry


# ------------------------------------------------------------------ our provider brokering

# The stand-in's name in our settings, and our client registration at it.
UPSTREAM = "national"
OUR_CLIENT_ID = "haugiang-sso"
OUR_SECRET = "np-client-secret-" + "h" * 40


def callback_path(name: str = UPSTREAM) -> str:
    return f"/login/upstream/{name}/callback"


def start_brokered(
    database_url: str, *, accounts: dict[str, dict[str, Any]] | None = None, **overrides: Any
) -> tuple[LiveIdp, NationalPortal]:
    """Our provider with the stand-in as upstream `national` (`overrides`: its settings),
    and the stand-in with us registered as its relying party: redirect URI, post-logout
    URI and back-channel logout URI, as docs/integration-upstream.md asks the portal for.
    Both on free ports of 127.0.0.1; the caller stops both. The broker's cache of upstream
    metadata and keys (per process, by upstream name) starts empty: an earlier test's
    stand-in had other ports and keys."""
    from idp.upstreams import client

    client.forget_cached()
    port = free_port()
    settings = portal_settings(
        f"http://127.0.0.1:{port}", client_id=OUR_CLIENT_ID, secret=OUR_SECRET, **overrides
    )
    idp = LiveIdp(database_url, UPSTREAMS={UPSTREAM: settings}, LOGOUT_DELIVER_IMMEDIATELY=True)
    base = idp.issuer + f"/login/upstream/{UPSTREAM}"
    try:
        portal = NationalPortal(
            [
                portal_client(
                    OUR_CLIENT_ID,
                    OUR_SECRET,
                    redirect_uri=base + "/callback",
                    post_logout_redirect_uri=base + "/logged-out",
                    backchannel_logout_uri=base + "/backchannel-logout",
                )
            ],
            accounts,
            port=port,
        )
    except BaseException:
        idp.stop()
        raise
    return idp, portal


def pre_link(idp: LiveIdp, sub: str, value: str = CITIZEN["SoDinhDanh"]) -> None:
    """Link our person `sub` to the stand-in's identity whose link claim is `value`, as an
    administrator or an import would beforehand (the link key, hashed as configured)."""
    from idp.directory.store import find_user_by_sub
    from idp.extensions import db
    from idp.upstreams import configured
    from idp.upstreams.config import link_key_for
    from idp.upstreams.store import add_link

    with idp.app.app_context():
        upstream = configured(idp.app)[UPSTREAM]
        key = link_key_for(upstream, value, idp.app.config)
        add_link(find_user_by_sub(sub), UPSTREAM, key, linked_by="admin")
        db.session.commit()


def through_portal(
    browser: Browser, idp: LiveIdp, *, next_url: str = "/account/", username: str = CITIZEN_USERNAME
):
    """Press the upstream's button on our sign-in page and sign in at the stand-in as
    `username`; the answer where our callback sent the browser (followed)."""
    page = browser.get(f"{idp.issuer}/login/upstream/{UPSTREAM}?next={next_url}")
    assert "/interaction/" in page.url, page.url
    return browser.post(page.url.rstrip("/") + "/login", data={"username": username})


def post_form(browser: Browser, page, action: str, **fields: str):
    """Submit the page's form posting to `action` (its hidden fields, CSRF token included)."""
    data = form_fields(page.text, action.split("?")[0])
    data.update(fields)
    base = page.url.split("/", 3)
    return browser.post(f"{base[0]}//{base[2]}{action}", data=data)


__all__ = [
    "CITIZEN",
    "CITIZEN_USERNAME",
    "EVENT_BACKCHANNEL_LOGOUT",
    "NATIONAL_PORTAL_BUTTON",
    "NATIONAL_PORTAL_DIR",
    "NationalPortal",
    "national_portal_ready",
    "portal_client",
    "portal_settings",
    "pre_link",
    "post_form",
    "start_brokered",
    "through_portal",
]
