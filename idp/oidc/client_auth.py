"""private_key_jwt client authentication (RFC 7523 2.2, OIDC Core 9).

The client signs an assertion with its own key; we verify it against the `jwks` in its
metadata or the document at its `jwks_uri` (fetched with a short timeout, cached, and
fetched again when an unknown `kid` shows up). Each assertion's `jti` is accepted once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import current_app, g, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.oidc import store
from idp.oidc.profile import CLIENT_ASSERTION_ALGS, TOKEN_PATH

log = logging.getLogger("idp.oidc")

JWKS_FETCH_TIMEOUT_SECONDS = 3.0
JWKS_MAX_BYTES = 65536
JWKS_CACHE_SECONDS = 300
# An unknown kid (the client rotated its keys) triggers a new fetch, at most this often per
# jwks_uri: assertions naming random kids cannot make us hammer the client's server.
JWKS_REFETCH_MIN_SECONDS = 10
# Assertions valid for longer than this are refused: their jti would have to be kept as long.
ASSERTION_MAX_LIFETIME_SECONDS = 3600


class _JwksCache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, tuple[float, KeySet]] = {}


_cache = _JwksCache()
monotonic = time.monotonic


def _fetch_jwks(uri: str) -> KeySet:
    parts = urlsplit(uri)
    loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
    development = current_app.config["ENV"] == "development"
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback and development):
        raise InvalidClientError(description="The client's jwks_uri must be https.")
    try:
        # The scheme was checked above: https (or loopback http in development) only.
        req = urllib.request.Request(uri, headers={"Accept": "application/json"})  # noqa: S310
        with urllib.request.urlopen(req, timeout=JWKS_FETCH_TIMEOUT_SECONDS) as resp:  # noqa: S310
            body = resp.read(JWKS_MAX_BYTES + 1)
        if len(body) > JWKS_MAX_BYTES:
            raise ValueError("jwks document too large")
        return KeySet.import_key_set(json.loads(body))
    except (OSError, ValueError, JoseError, TypeError) as exc:
        log.warning("fetching jwks_uri failed: %s", type(exc).__name__)
        raise InvalidClientError(description="The client's jwks_uri could not be read.") from exc


def client_keys(client: Any, kid: str | None) -> KeySet:
    """The client's public keys: its registered `jwks`, or its `jwks_uri` document."""
    jwks = client.meta("jwks")
    if jwks:
        try:
            return KeySet.import_key_set(jwks)
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidClientError(description="The client's jwks is not usable.") from exc
    uri = client.meta("jwks_uri")
    if not uri:
        raise InvalidClientError(description="The client has no jwks or jwks_uri.")
    now = monotonic()
    cached = _cache.entries.get(uri)
    if cached is not None:
        fetched_at, keys = cached
        fresh = now - fetched_at < JWKS_CACHE_SECONDS
        known = kid is None or any(k.kid == kid for k in keys.keys)
        if fresh and (known or now - fetched_at < JWKS_REFETCH_MIN_SECONDS):
            return keys
    keys = _fetch_jwks(uri)
    with _cache.lock:
        _cache.entries[uri] = (now, keys)
    return keys


class PrivateKeyJWT(JWTBearerClientAssertion):
    """Authlib's RFC 7523 client assertion, as the `private_key_jwt` method."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self) -> None:
        super().__init__(validate_jti=True, leeway=30)

    def get_audiences(self) -> list[str]:
        """OIDC Core 9: the token endpoint URL; we also accept the issuer and this endpoint."""
        issuer = current_app.config["ISSUER"]
        return list(dict.fromkeys([issuer, issuer + TOKEN_PATH, issuer + request.path]))

    def extract_assertion(self, assertion: str):
        headers, claims = super().extract_assertion(assertion)
        g.client_assertion_kid = headers.get("kid") if isinstance(headers, dict) else None
        return headers, claims

    def resolve_client_public_key(self, client: Any) -> KeySet:
        return client_keys(client, g.get("client_assertion_kid"))

    def process_assertion_claims(self, assertion: str, resolve_key: Any):
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=list(CLIENT_ASSERTION_ALGS))
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(description="The client assertion is not valid.") from exc
        self.verify_claims(token.claims)
        return token.claims

    def validate_jti(self, claims: dict[str, Any], jti: Any) -> bool:
        exp = claims.get("exp")
        if not isinstance(jti, str) or not jti or len(jti) > 512 or not isinstance(exp, int):
            return False
        if exp - time.time() > ASSERTION_MAX_LIFETIME_SECONDS:
            raise InvalidClientError(description="The client assertion lives too long.")
        return store.note_assertion(claims["sub"], jti, datetime.fromtimestamp(exp, UTC))
