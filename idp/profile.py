"""What this provider supports, in one place: discovery publishes it, the endpoints enforce it.

Client registration (idp/oidc/registration.py, manifests) validates client metadata against
these lists too.
"""

from __future__ import annotations

from idp import assurance

RESPONSE_TYPES = ("code",)
RESPONSE_MODES = ("query", "form_post")
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
# RFC 7591 token_endpoint_auth_method values; "none" is for public (native) clients.
TOKEN_ENDPOINT_AUTH_METHODS = (
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "none",
)
# Introspection is for authenticated (confidential) clients only (RFC 7662 2.1).
INTROSPECTION_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
# Public clients revoke their own tokens with their client_id (RFC 7009 2.1).
REVOCATION_AUTH_METHODS = TOKEN_ENDPOINT_AUTH_METHODS
# Algorithms accepted on private_key_jwt client assertions.
CLIENT_ASSERTION_ALGS = ("RS256", "PS256", "ES256")
CODE_CHALLENGE_METHODS = ("S256",)
PROMPT_VALUES = ("none", "login", "consent", "select_account")
DISPLAY_VALUES = ("page", "popup")

SCOPE_OPENID = "openid"
SCOPE_OFFLINE = "offline_access"
# Scopes about a person: they make no sense for client_credentials tokens.
USER_SCOPES = ("openid", "profile", "email", "phone", "org", "offline_access")
# The admin API's scopes (idp.admin.permissions): registered for a client by administrators
# only, never by dynamic registration (idp.clients.metadata).
ADMIN_API_SCOPES = ("admin:read", "admin:write")

# Claims released per scope (OIDC Core 5.4, plus `org`, ours).
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile": (
        "name",
        "family_name",
        "middle_name",
        "given_name",
        "preferred_username",
        "locale",
        "updated_at",
    ),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "org": ("unit_code", "unit_name", "unit_path", "title", "roles"),
}
USER_CLAIMS = tuple(dict.fromkeys(c for claims in SCOPE_CLAIMS.values() for c in claims))
# The scope that covers each claim about a person: a client receives a claim, whether through
# a scope or by name in the `claims` parameter (OIDC Core 5.5), only when it is registered
# for that scope. `sub` is the subject of every token, not a claim that needs a scope.
CLAIM_SCOPE = {
    claim: scope for scope, claims in SCOPE_CLAIMS.items() if scope != "openid" for claim in claims
}
# Claims of the ID token itself, which a claims request may also name.
ID_TOKEN_PROTOCOL_CLAIMS = (
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "sid",
    "at_hash",
)
CLAIMS_SUPPORTED = tuple(dict.fromkeys((*ID_TOKEN_PROTOCOL_CLAIMS, *USER_CLAIMS)))

# Levels of assurance, weakest first: password alone, password and a second factor,
# phishing-resistant (idp.assurance, which says which methods reach each).
ACR_RANK = dict(assurance.ACR_RANK)

# The endpoints, as paths under the issuer.
AUTHORIZATION_PATH = "/oauth2/authorize"
TOKEN_PATH = "/oauth2/token"
USERINFO_PATH = "/oauth2/userinfo"
INTROSPECTION_PATH = "/oauth2/introspect"
REVOCATION_PATH = "/oauth2/revoke"
# Served by the registration blueprint when it is installed; discovery lists it only then.
REGISTRATION_PATH = "/oauth2/register"
JWKS_PATH = "/jwks"
# RP-Initiated Logout 1.0 (idp/oidc/logout.py); discovery lists it only when installed.
END_SESSION_PATH = "/oauth2/logout"
