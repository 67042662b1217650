"""The provider with one speed-up layer switched off, for measuring that layer alone.

`bench.layers` serves `bench.variant_app:app` under the same granian command as `idp serve`,
with `IDP_BENCH_OFF` naming the layers to switch off (comma-separated). Each switch puts
back what the libraries do on their own; nothing here is used by the provider itself.

    IDP_BENCH_OFF=jws-signer python -m granian --interface wsgi bench.variant_app:app
"""

from __future__ import annotations

import os
from collections.abc import Callable

LAYERS: dict[str, str] = {}
_SWITCHES: dict[str, Callable[[], None]] = {}
# Steps run on the app once created (a switch that needs the app).
AFTER_CREATE: list[Callable[[object], None]] = []


def layer(name: str, what: str):
    def register(switch: Callable[[], None]) -> Callable[[], None]:
        LAYERS[name] = what
        _SWITCHES[name] = switch
        return switch

    return register


def _replace(attribute: str, value: object, *modules: str) -> None:
    """Set `attribute` in each module that holds it (modules import functions by name)."""
    import importlib

    for name in modules:
        setattr(importlib.import_module(name), attribute, value)


@layer("jws-signer", "compact JWS signed directly with the `cryptography` key (off: joserfc)")
def _jws_signer_off() -> None:
    from joserfc import jwt

    from idp.keys import ring

    def sign_with_joserfc(claims, *, alg="RS256", typ="JWT"):
        kid, key = ring._load().current[alg]
        return jwt.encode({"alg": alg, "kid": kid, "typ": typ}, claims, key, algorithms=[alg])

    _replace(
        "sign_jwt",
        sign_with_joserfc,
        "idp.keys.ring",
        "idp.oidc.tokens",
        "idp.oidc.endpoints",
        "idp.sessions.delivery",
    )


@layer("static-documents", "discovery and JWKS answered before Flask (off: Flask's views)")
def _static_documents_off() -> None:
    from idp import http

    # The layer stays in the WSGI chain but nothing is published to it: one dict lookup.
    AFTER_CREATE.append(lambda app: app.extensions.pop(http.EXTENSION_KEY))


@layer("lazy-session", "cookie session opened only when a cookie came (off: Flask's)")
def _lazy_session_off() -> None:
    from flask.sessions import SecureCookieSessionInterface

    def flask_session(app):
        app.session_interface = SecureCookieSessionInterface()

    AFTER_CREATE.append(flask_session)


@layer("token-response-order", "ID token signed before the writes (off: Authlib's order)")
def _token_response_order_off() -> None:
    from authlib.oauth2.rfc6749 import grants as authlib_grants

    from idp.oidc import grants

    for ours, theirs in (
        (grants.AuthorizationCodeGrant, authlib_grants.AuthorizationCodeGrant),
        (grants.RefreshTokenGrant, authlib_grants.RefreshTokenGrant),
        (grants.ClientCredentialsGrant, authlib_grants.ClientCredentialsGrant),
    ):
        ours.create_token_response = theirs.create_token_response


def switch_off(names: list[str]) -> None:
    unknown = set(names) - set(_SWITCHES)
    if unknown:
        raise SystemExit(f"unknown layers: {', '.join(sorted(unknown))}")
    for name in names:
        _SWITCHES[name]()


def _names_from_environment() -> list[str]:
    return [n.strip() for n in os.environ.get("IDP_BENCH_OFF", "").split(",") if n.strip()]


def create() -> object:
    """The provider's app with the layers of IDP_BENCH_OFF switched off."""
    switch_off(_names_from_environment())
    from idp import create_app

    created = create_app()
    for step in AFTER_CREATE:
        step(created)
    return created
