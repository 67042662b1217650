"""OpenID Connect Discovery 1.0 and RFC 8414 metadata: exactly what this provider supports.

The document is built once per application (on first request, when every blueprint is
registered) and served as bytes with Cache-Control public and an ETag (idp.http).
`registration_endpoint` is listed only when the registration endpoint (REGISTRATION_PATH)
is installed.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app

from idp import profile
from idp.http import document_response
from idp.keys.ring import signing_algs

CACHE_KEY = "idp.oidc.discovery"


def has_route(path: str, method: str = "POST") -> bool:
    return any(
        rule.rule == path and method in (rule.methods or ())
        for rule in current_app.url_map.iter_rules()
    )


def build_metadata() -> dict[str, Any]:
    cfg = current_app.config
    issuer = cfg["ISSUER"]
    algs = signing_algs()
    metadata: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": issuer + profile.AUTHORIZATION_PATH,
        "token_endpoint": issuer + profile.TOKEN_PATH,
        "userinfo_endpoint": issuer + profile.USERINFO_PATH,
        "jwks_uri": issuer + profile.JWKS_PATH,
        "introspection_endpoint": issuer + profile.INTROSPECTION_PATH,
        "revocation_endpoint": issuer + profile.REVOCATION_PATH,
        "scopes_supported": [*profile.USER_SCOPES, *profile.ADMIN_API_SCOPES],
        "response_types_supported": list(profile.RESPONSE_TYPES),
        "response_modes_supported": list(profile.RESPONSE_MODES),
        "grant_types_supported": list(profile.GRANT_TYPES),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "userinfo_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": list(profile.TOKEN_ENDPOINT_AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(profile.CLIENT_ASSERTION_ALGS),
        "introspection_endpoint_auth_methods_supported": list(profile.INTROSPECTION_AUTH_METHODS),
        "introspection_endpoint_auth_signing_alg_values_supported": list(
            profile.CLIENT_ASSERTION_ALGS
        ),
        "revocation_endpoint_auth_methods_supported": list(profile.REVOCATION_AUTH_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": list(
            profile.CLIENT_ASSERTION_ALGS
        ),
        "code_challenge_methods_supported": list(profile.CODE_CHALLENGE_METHODS),
        "claims_supported": list(profile.CLAIMS_SUPPORTED),
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "acr_values_supported": list(cfg["ACR_VALUES_SUPPORTED"]),
        "prompt_values_supported": list(profile.PROMPT_VALUES),
        "display_values_supported": list(profile.DISPLAY_VALUES),
        "ui_locales_supported": list(cfg["LANGUAGES"]),
        "authorization_response_iss_parameter_supported": True,
    }
    if has_route(profile.REGISTRATION_PATH):
        metadata["registration_endpoint"] = issuer + profile.REGISTRATION_PATH
    if has_route(profile.END_SESSION_PATH, "GET"):
        # RP-Initiated, Front-Channel and Back-Channel Logout 1.0 (idp/oidc/logout.py,
        # idp/sessions/): ID tokens carry `sid`, and so do both kinds of logout.
        metadata["end_session_endpoint"] = issuer + profile.END_SESSION_PATH
        metadata["frontchannel_logout_supported"] = True
        metadata["frontchannel_logout_session_supported"] = True
        metadata["backchannel_logout_supported"] = True
        metadata["backchannel_logout_session_supported"] = True
    return metadata


def metadata_response() -> Response:
    body = current_app.extensions.get(CACHE_KEY)
    if body is None:
        body = json.dumps(build_metadata(), separators=(",", ":")).encode()
        current_app.extensions[CACHE_KEY] = body
    # The same bytes for the life of the process: later requests are answered before Flask.
    return document_response(
        body, mimetype="application/json", max_age=current_app.config["DISCOVERY_MAX_AGE_SECONDS"]
    )
