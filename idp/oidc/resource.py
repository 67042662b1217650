"""Our own protected resources (the admin API): validating the bearer tokens they receive.

The same checks as userinfo (idp.oidc.endpoints.BearerTokenValidator) and introspection, in
plain values so that a resource outside idp.oidc needs no Authlib: the JWT's signature,
`typ` (at+jwt), issuer and expiry (without the database), then in one query whether the
token or its grant was revoked and whether its client and its person are still active.
A resource names its audience: a token whose `aud` names other resource servers only
(one issued for a relying party's API, RFC 8707 / RFC 9068 3) is refused, so that such a
server cannot replay a token it received against ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from idp.clients import Client
from idp.clients import store as clients_store
from idp.extensions import utcnow
from idp.oidc import store
from idp.oidc.endpoints import AccessTokenInfo, access_token_claims, revocation_keys

# RFC 6750 3.1 error codes, and RFC 9470 3's for a token from too weak a sign-in.
INVALID_TOKEN = "invalid_token"
INVALID_REQUEST = "invalid_request"
INSUFFICIENT_SCOPE = "insufficient_scope"
INSUFFICIENT_USER_AUTHENTICATION = "insufficient_user_authentication"


class BearerRejected(Exception):
    """A bearer token (or its absence) that does not authorise the request.

    `error` is the RFC 6750 code for the WWW-Authenticate challenge, None when the request
    carried no credentials at all (RFC 6750 3.1: then the challenge has no error code).
    `description` is for the client, never the token itself.
    """

    def __init__(self, error: str | None, description: str, status: int = 401) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True)
class BearerToken:
    """A live access token of ours, as a resource sees it."""

    claims: dict[str, Any]
    client: Client

    @property
    def client_id(self) -> str:
        return self.client.client_id

    @property
    def sub(self) -> str:
        return self.claims["sub"]

    @property
    def for_person(self) -> bool:
        """Issued to a person through the code flow (a grant), not client_credentials."""
        return isinstance(self.claims.get("gid"), str)

    @property
    def scopes(self) -> frozenset[str]:
        scope = self.claims.get("scope")
        return frozenset(scope.split()) if isinstance(scope, str) else frozenset()

    @property
    def acr(self) -> str:
        acr = self.claims.get("acr")
        return acr if isinstance(acr, str) else ""


def bearer_from_header(header: str | None) -> str:
    """The token of an `Authorization: Bearer` header (RFC 6750 2.1), else BearerRejected.

    Only the header: the admin API takes JSON bodies, and a token in the query string ends up
    in logs (RFC 6750 2.3 says SHOULD NOT; we do not).
    """
    if not header:
        raise BearerRejected(None, "An access token is required.")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BearerRejected(INVALID_REQUEST, "Use the Bearer scheme.", status=400)
    return token.strip()


def validate_access_token(token_string: str, *, audience: str) -> BearerToken:
    """The live token, or BearerRejected(invalid_token) saying why in a few words."""
    claims = access_token_claims(token_string)
    if claims is None:
        raise BearerRejected(INVALID_TOKEN, "The access token is not valid.")
    info = AccessTokenInfo(claims)
    if info.is_expired():
        raise BearerRejected(INVALID_TOKEN, "The access token has expired.")
    if not accepts_audience(info.audiences, claims["client_id"], audience):
        raise BearerRejected(INVALID_TOKEN, "The access token is for another audience.")
    revoked, client_active, user_active = store.token_status(
        keys=revocation_keys(claims),
        client_id=claims["client_id"],
        sub=claims["sub"] if info.is_user_token else None,
        now=utcnow(),
    )
    if revoked or not client_active or (info.is_user_token and not user_active):
        raise BearerRejected(INVALID_TOKEN, "The access token was revoked.")
    client = clients_store.find_active_client_cached(claims["client_id"])
    if client is None:
        raise BearerRejected(INVALID_TOKEN, "The access token was revoked.")
    return BearerToken(claims=claims, client=client)


def accepts_audience(audiences: list[str], client_id: str, audience: str) -> bool:
    """A token is for this resource when its `aud` names it, or when it names only the client
    itself: the default of a client registered with no resource servers (RFC 9068 3,
    idp.oidc.tokens.default_audience), which no other resource server receives."""
    if audience in audiences:
        return True
    return audiences == [client_id]
