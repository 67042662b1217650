"""private_key_jwt client authentication (RFC 7523 2.2, OIDC Core 9).

The client signs an assertion with its own key; we verify it against the `jwks` in its
metadata or the keys at its `jwks_uri` (idp.oidc.client_keys: fetched outside the request
path where possible, through idp.outbound, and shared by every process). Each assertion's
`jti` is accepted once.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import current_app, g, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp import jwkset
from idp.oidc import client_keys, store
from idp.profile import CLIENT_ASSERTION_ALGS, TOKEN_PATH

log = logging.getLogger("idp.oidc")

# Assertions valid for longer than this are refused: their jti would have to be kept as long.
ASSERTION_MAX_LIFETIME_SECONDS = 3600


def client_public_keys(client: Any, kid: str | None) -> KeySet:
    """The client's public keys: its registered `jwks`, or those at its `jwks_uri`."""
    jwks = client.meta("jwks")
    if jwks:
        try:
            return jwkset.key_set(jwks)
        except jwkset.InvalidJwks as exc:
            raise InvalidClientError(description="The client's jwks is not usable.") from exc
    if not client.meta("jwks_uri"):
        raise InvalidClientError(description="The client has no jwks or jwks_uri.")
    try:
        return client_keys.keys_for(client, kid)
    except client_keys.KeysUnavailable as exc:
        # The reason (an address the name resolved to, say) is for the logs and the
        # stored state, not for whoever presented the assertion.
        raise InvalidClientError(description="The client's jwks_uri could not be read.") from exc


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
        return client_public_keys(client, g.get("client_assertion_kid"))

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
