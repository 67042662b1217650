"""Client metadata rules (RFC 7591 section 2, OpenID Connect Registration 1.0 section 2).

`validate_metadata` is the single gate every registration passes through: the `idp clients`
commands, the manifests in clients/ and dynamic registration. It returns the metadata in a
normal form (defaults filled in, duplicates removed) so that equal intents compare equal, and
raises InvalidClientMetadata / InvalidRedirectURI naming the field and the reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from idp import jwkset, profile
from idp.clients.uris import (
    MAX_URI_LENGTH,
    UriRejected,
    check_redirect_uri,
    check_web_uri,
    origin,
)
from idp.errors import ValidationFailed
from idp.keys.ring import SUPPORTED_ALGS

# What a client may register: the lists discovery publishes (idp/profile.py).
GRANT_TYPES = profile.GRANT_TYPES
RESPONSE_TYPES = profile.RESPONSE_TYPES
TOKEN_ENDPOINT_AUTH_METHODS = profile.TOKEN_ENDPOINT_AUTH_METHODS
SECRET_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
CLIENT_ASSERTION_ALGS = profile.CLIENT_ASSERTION_ALGS
# Every level of assurance the provider knows; discovery lists those it can perform today
# (the ACR_VALUES_SUPPORTED setting), which bounds what a client may register itself.
ACR_VALUES = tuple(profile.ACR_RANK)
APPLICATION_TYPES = ("web", "native")
# Scopes a dynamically registered client may ask for; administrators may also register
# resource-server scopes of their own for machine clients.
STANDARD_SCOPES = profile.USER_SCOPES
DEFAULT_SCOPES = ("openid", "profile", "email", "phone")

MAX_LIST_ITEMS = 50
MAX_TEXT_LENGTH = 300
MIN_RSA_BITS = jwkset.MIN_RSA_BITS
# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
# RFC 7591 section 2.2: human-readable fields may carry a BCP 47 language tag ("client_name#vi").
LOCALIZABLE = ("client_name", "client_uri", "logo_uri", "policy_uri", "tos_uri")
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")

TEXT_FIELDS = ("client_name", "software_id", "software_version")
PAGE_URI_FIELDS = ("client_uri", "logo_uri", "policy_uri", "tos_uri")
# Fields this provider understands but does not implement: registering them would promise
# something (encrypted or pairwise tokens, pre-registered request objects) it cannot keep.
UNSUPPORTED_FIELDS = {
    "sector_identifier_uri": "pairwise subject identifiers are not supported "
    '(subject_types_supported is ["public"]), so sector_identifier_uri is not accepted',
    "id_token_encrypted_response_alg": "encrypted ID tokens are not supported",
    "id_token_encrypted_response_enc": "encrypted ID tokens are not supported",
    "userinfo_encrypted_response_alg": "encrypted userinfo responses are not supported",
    "userinfo_encrypted_response_enc": "encrypted userinfo responses are not supported",
    "request_object_encryption_alg": "encrypted request objects are not supported",
    "request_object_encryption_enc": "encrypted request objects are not supported",
    "request_uris": "request_uri is not supported",
    "request_object_signing_alg": "request objects are not supported",
    "authorization_encrypted_response_alg": "encrypted authorization responses are not supported",
    "authorization_encrypted_response_enc": "encrypted authorization responses are not supported",
}
# Set by administrators only (CLI and manifests), never by a client registering itself:
# `allowed_audiences`, the resource servers its access tokens may be for, and
# `resource_server_audiences`, the audiences under which it is a resource server itself
# (it may introspect access tokens whose `aud` names one of them, RFC 7662 2.1).
ADMIN_FIELDS = ("allowed_audiences", "resource_server_audiences")
# Also administrators' only: `admin_automation`, true when the client's client_credentials
# tokens act as a super-administrator in the admin API (idp.admin.permissions).
ADMIN_FLAGS = ("admin_automation",)
# The admin API's scopes (idp.admin.permissions): registered by administrators only, so that
# no client registering itself can ever ask for them.
ADMIN_API_SCOPES = profile.ADMIN_API_SCOPES
# Everything validate_metadata knows; in strict mode anything else is an error.
KNOWN_FIELDS = frozenset(
    """redirect_uris post_logout_redirect_uris grant_types response_types scope contacts
    token_endpoint_auth_method token_endpoint_auth_signing_alg jwks jwks_uri application_type
    id_token_signed_response_alg subject_type default_max_age require_auth_time
    default_acr_values initiate_login_uri userinfo_signed_response_alg
    backchannel_logout_uri backchannel_logout_session_required
    frontchannel_logout_uri frontchannel_logout_session_required""".split()  # noqa: SIM905
    + [*TEXT_FIELDS, *PAGE_URI_FIELDS, *ADMIN_FIELDS, *ADMIN_FLAGS]
)
# Sent by clients, meaningful only in responses or not used here: dropped silently.
IGNORED_FIELDS = frozenset(
    """client_id client_secret client_id_issued_at client_secret_expires_at
    registration_access_token registration_client_uri software_statement""".split()  # noqa: SIM905
)


class InvalidClientMetadata(ValidationFailed):
    """RFC 7591 section 3.2.2 invalid_client_metadata: a field has a value we refuse."""

    error = "invalid_client_metadata"

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")

    @property
    def description(self) -> str:
        return f"{self.field}: {self.reason}"


class InvalidRedirectURI(InvalidClientMetadata):
    """RFC 7591 section 3.2.2 invalid_redirect_uri."""

    error = "invalid_redirect_uri"


@dataclass(frozen=True)
class MetadataPolicy:
    """What the caller allows: plain values, so validation needs no app or request."""

    # http://localhost and http://127.0.0.1 redirect URIs for web applications.
    development: bool = False
    # Dynamic registration (RFC 7591): unknown fields are ignored (section 2), only the
    # standard scopes may be registered, and administrator-only fields are refused.
    # Otherwise (CLI, manifests) an unknown field is an error, to catch typos.
    dynamic: bool = False
    # ID token signing algorithms with keys (the KEY_ALGORITHMS setting).
    id_token_algs: tuple[str, ...] = SUPPORTED_ALGS
    # default_acr_values a client may register: administrators may name any level the
    # provider knows (ready for when it is enabled); dynamic clients only enabled ones.
    acr_values: tuple[str, ...] = ACR_VALUES


def policy_from_config(config: Mapping[str, Any], *, dynamic: bool) -> MetadataPolicy:
    """The policy under the app's settings (ENV, KEY_ALGORITHMS)."""
    algs = tuple(a for a in config.get("KEY_ALGORITHMS", SUPPORTED_ALGS) if a in SUPPORTED_ALGS)
    enabled = tuple(v for v in config.get("ACR_VALUES_SUPPORTED", ACR_VALUES) if v in ACR_VALUES)
    return MetadataPolicy(
        development=config.get("ENV") == "development",
        dynamic=dynamic,
        id_token_algs=algs or ("RS256",),
        acr_values=enabled if dynamic else ACR_VALUES,
    )


def validate_metadata(raw: Mapping[str, Any], policy: MetadataPolicy) -> dict[str, Any]:
    """The normal form of `raw`, or InvalidClientMetadata / InvalidRedirectURI."""
    if not isinstance(raw, Mapping):
        raise InvalidClientMetadata("metadata", "must be a JSON object")
    data = {k: v for k, v in raw.items() if v is not None and k not in IGNORED_FIELDS}
    for key in list(data):
        _check_field_name(key, policy, data)
    out: dict[str, Any] = {}
    # One checker per group of fields (FIELD_GROUPS, at the end of the module), in order: a
    # later group reads what an earlier one put in `out` (the auth method, grant types,
    # redirect URIs), and the normal form keeps this order of fields.
    for check in FIELD_GROUPS:
        check(data, policy, out)
    return out


def _check_field_name(key: Any, policy: MetadataPolicy, data: dict[str, Any]) -> None:
    """Refuse (or, in dynamic registration, drop) a field this provider does not take."""
    if not isinstance(key, str):
        raise InvalidClientMetadata(str(key), "field names must be strings")
    base, _, tag = key.partition("#")
    if tag:
        if base not in LOCALIZABLE or not LANGUAGE_TAG.match(tag):
            _unknown(key, policy, data)
    elif key in UNSUPPORTED_FIELDS:
        raise InvalidClientMetadata(key, UNSUPPORTED_FIELDS[key])
    elif key in (*ADMIN_FIELDS, *ADMIN_FLAGS) and policy.dynamic:
        raise InvalidClientMetadata(key, "is set by the provider's administrators only")
    elif key not in KNOWN_FIELDS:
        _unknown(key, policy, data)


def _check_client_type(
    data: Mapping[str, Any], _policy: MetadataPolicy, out: dict[str, Any]
) -> None:
    """application_type and token_endpoint_auth_method."""
    out["application_type"] = _choice(data, "application_type", APPLICATION_TYPES, "web")
    out["token_endpoint_auth_method"] = _choice(
        data, "token_endpoint_auth_method", TOKEN_ENDPOINT_AUTH_METHODS, "client_secret_basic"
    )


def _check_grants(data: Mapping[str, Any], _policy: MetadataPolicy, out: dict[str, Any]) -> None:
    """grant_types and response_types, which must agree (RFC 7591 section 2.1)."""
    grant_types = _string_list(data, "grant_types") or ["authorization_code"]
    for grant in grant_types:
        if grant not in GRANT_TYPES:
            raise InvalidClientMetadata(
                "grant_types", f"{grant!r} is not supported (supported: {', '.join(GRANT_TYPES)})"
            )
    uses_code = "authorization_code" in grant_types
    default_response_types = ["code"] if uses_code else []
    response_types = _string_list(data, "response_types", default_response_types)
    for response_type in response_types:
        if response_type not in RESPONSE_TYPES:
            raise InvalidClientMetadata(
                "response_types", f"{response_type!r} is not supported (only 'code')"
            )
    _check_grant_combinations(grant_types, response_types, out["token_endpoint_auth_method"])
    out["grant_types"] = grant_types
    out["response_types"] = response_types


def _check_grant_combinations(
    grant_types: list[str], response_types: list[str], method: str
) -> None:
    uses_code = "authorization_code" in grant_types
    # RFC 7591 section 2.1: the two lists must agree.
    if uses_code != ("code" in response_types):
        raise InvalidClientMetadata(
            "response_types", "'code' goes together with the authorization_code grant type"
        )
    if "refresh_token" in grant_types and not uses_code:
        raise InvalidClientMetadata(
            "grant_types", "refresh_token is only issued with the authorization_code grant"
        )
    if method == "none" and "client_credentials" in grant_types:
        raise InvalidClientMetadata(
            "grant_types",
            "client_credentials needs client authentication; public clients "
            "(token_endpoint_auth_method none) cannot use it",
        )


def _check_redirect_uris(
    data: Mapping[str, Any], policy: MetadataPolicy, out: dict[str, Any]
) -> None:
    """redirect_uris (required with the code grant) and post_logout_redirect_uris."""
    application_type = out["application_type"]
    redirect_uris = _string_list(data, "redirect_uris", error=InvalidRedirectURI)
    for uri in redirect_uris:
        _redirect_uri(
            uri, application_type, policy.development, "redirect_uris", InvalidRedirectURI
        )
    if "authorization_code" in out["grant_types"] and not redirect_uris:
        raise InvalidRedirectURI(
            "redirect_uris", "at least one is required for the authorization_code grant"
        )
    out["redirect_uris"] = redirect_uris
    post_logout = _string_list(data, "post_logout_redirect_uris")
    for uri in post_logout:
        _redirect_uri(uri, application_type, policy.development, "post_logout_redirect_uris")
    if post_logout:
        out["post_logout_redirect_uris"] = post_logout


def _check_scope(data: Mapping[str, Any], policy: MetadataPolicy, out: dict[str, Any]) -> None:
    out["scope"] = _scope(data, out["grant_types"], policy)


def _check_signing_algs(
    data: Mapping[str, Any], policy: MetadataPolicy, out: dict[str, Any]
) -> None:
    """id_token_signed_response_alg and userinfo_signed_response_alg: algorithms with keys."""
    out["id_token_signed_response_alg"] = _choice(
        data, "id_token_signed_response_alg", policy.id_token_algs, "RS256"
    )
    if "userinfo_signed_response_alg" in data:
        # OIDC Core 5.3.2: the userinfo response as a JWT signed with one of our keys.
        out["userinfo_signed_response_alg"] = _choice(
            data, "userinfo_signed_response_alg", policy.id_token_algs, "RS256"
        )


def _check_display(data: Mapping[str, Any], policy: MetadataPolicy, out: dict[str, Any]) -> None:
    """What the consent page shows: names, software, page links, and their translations."""
    for field in TEXT_FIELDS:
        if field in data:
            out[field] = _text(data, field)
    for field in PAGE_URI_FIELDS:
        if field in data:
            out[field] = _web_uri(data[field], field, policy.development)
    for key, value in data.items():
        base, _, tag = key.partition("#")
        if tag and base in LOCALIZABLE and LANGUAGE_TAG.match(tag):
            out[key] = (
                _text(data, key)
                if base == "client_name"
                else _web_uri(value, key, policy.development)
            )


def _check_contacts_and_audiences(
    data: Mapping[str, Any], _policy: MetadataPolicy, out: dict[str, Any]
) -> None:
    """contacts, and the administrators' allowed_audiences and resource_server_audiences."""
    for field in ("contacts", *ADMIN_FIELDS):
        values = _string_list(data, field)
        if values:
            out[field] = values


def _check_admin_automation(
    data: Mapping[str, Any], _policy: MetadataPolicy, out: dict[str, Any]
) -> None:
    """admin_automation: only for a client of the client_credentials grant that is
    registered for an admin API scope (its tokens are what it makes act)."""
    if "admin_automation" not in data:
        return
    if not _bool(data, "admin_automation"):
        return
    if "client_credentials" not in out["grant_types"]:
        raise InvalidClientMetadata("admin_automation", "needs the client_credentials grant type")
    if not set(out["scope"].split()) & set(ADMIN_API_SCOPES):
        raise InvalidClientMetadata(
            "admin_automation", "needs an admin API scope (admin:read or admin:write)"
        )
    out["admin_automation"] = True


def _redirect_uri(
    uri: Any,
    application_type: str,
    development: bool,
    field: str,
    error: type[InvalidClientMetadata] = InvalidClientMetadata,
) -> None:
    try:
        check_redirect_uri(uri, application_type, development)
    except UriRejected as exc:
        raise error(field, str(exc)) from None


def _web_uri(value: Any, field: str, development: bool) -> str:
    try:
        return check_web_uri(value, development)
    except UriRejected as exc:
        raise InvalidClientMetadata(field, str(exc)) from None


def _unknown(key: str, policy: MetadataPolicy, data: dict[str, Any]) -> None:
    if policy.dynamic:
        del data[key]  # RFC 7591 section 2: ignore what we do not understand
        return
    raise InvalidClientMetadata(key, "unknown client metadata field")


def _choice(data: Mapping[str, Any], field: str, allowed: tuple[str, ...], default: str) -> str:
    value = data.get(field, default)
    if value not in allowed:
        raise InvalidClientMetadata(
            field, f"{value!r} is not supported (supported: {', '.join(allowed)})"
        )
    return value


def _text(data: Mapping[str, Any], field: str) -> str:
    value = data[field]
    if not isinstance(value, str) or not value.strip():
        raise InvalidClientMetadata(field, "must be a non-empty string")
    if len(value) > MAX_TEXT_LENGTH or not value.isprintable():
        raise InvalidClientMetadata(
            field, f"must be printable text of at most {MAX_TEXT_LENGTH} characters"
        )
    return value.strip()


def _string_list(
    data: Mapping[str, Any],
    field: str,
    default: list[str] | None = None,
    *,
    error: type[InvalidClientMetadata] = InvalidClientMetadata,
) -> list[str]:
    if field not in data:
        return list(default or [])
    value = data[field]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise error(field, "must be an array of non-empty strings")
    if len(value) > MAX_LIST_ITEMS:
        raise error(field, f"at most {MAX_LIST_ITEMS} values")
    if any(len(v) > MAX_URI_LENGTH or not v.isprintable() for v in value):
        raise error(field, f"values must be printable text of at most {MAX_URI_LENGTH} characters")
    return list(dict.fromkeys(value))  # de-duplicated, order kept


def _scope(data: Mapping[str, Any], grant_types: list[str], policy: MetadataPolicy) -> str:
    if "scope" not in data:
        if "authorization_code" not in grant_types:
            return ""
        default = list(DEFAULT_SCOPES)
        if "refresh_token" in grant_types:
            default.append("offline_access")
        return " ".join(default)
    value = data["scope"]
    if not isinstance(value, str):
        raise InvalidClientMetadata("scope", "must be a space-separated string")
    scopes = list(dict.fromkeys(value.split()))
    for scope in scopes:
        if not SCOPE_TOKEN.match(scope):
            raise InvalidClientMetadata("scope", f"{scope!r} is not a valid scope token")
        if policy.dynamic and scope in ADMIN_API_SCOPES:
            raise InvalidClientMetadata(
                "scope", f"{scope!r} is granted by the provider's administrators only"
            )
        if policy.dynamic and scope not in STANDARD_SCOPES:
            raise InvalidClientMetadata(
                "scope", f"{scope!r} is not supported (supported: {' '.join(STANDARD_SCOPES)})"
            )
    if "offline_access" in scopes and "refresh_token" not in grant_types:
        raise InvalidClientMetadata("scope", "offline_access needs the refresh_token grant type")
    return " ".join(scopes)


def _check_keys(data: Mapping[str, Any], policy: MetadataPolicy, out: dict[str, Any]) -> None:
    """jwks / jwks_uri (RFC 7591 2): public keys only, never both, required for private_key_jwt."""
    method = out["token_endpoint_auth_method"]
    if "jwks" in data and "jwks_uri" in data:
        raise InvalidClientMetadata("jwks", "jwks and jwks_uri must not both be present")
    if "jwks_uri" in data:
        out["jwks_uri"] = _web_uri(data["jwks_uri"], "jwks_uri", policy.development)
    if "jwks" in data:
        out["jwks"] = _public_key_set(data["jwks"])
    if method == "private_key_jwt" and not ("jwks" in out or "jwks_uri" in out):
        raise InvalidClientMetadata(
            "token_endpoint_auth_method", "private_key_jwt needs jwks or jwks_uri"
        )
    if "token_endpoint_auth_signing_alg" in data:
        out["token_endpoint_auth_signing_alg"] = _choice(
            data, "token_endpoint_auth_signing_alg", CLIENT_ASSERTION_ALGS, "RS256"
        )


def _public_key_set(value: Any) -> dict[str, Any]:
    try:
        return jwkset.public_key_set(value)
    except jwkset.InvalidJwks as exc:
        raise InvalidClientMetadata("jwks", str(exc)) from None


def _check_logout_uris(
    data: Mapping[str, Any], policy: MetadataPolicy, out: dict[str, Any]
) -> None:
    """Back-Channel Logout 1.0 section 2.2 and Front-Channel Logout 1.0 section 2."""
    redirect_uris = out["redirect_uris"]
    for field in ("backchannel_logout_uri", "frontchannel_logout_uri"):
        if field in data:
            out[field] = _web_uri(data[field], field, policy.development)
    for field in ("backchannel_logout_session_required", "frontchannel_logout_session_required"):
        if field in data:
            out[field] = _bool(data, field)
    # "The domain, port, and scheme of this URL MUST be the same as that of a registered
    # Redirection URI value."
    front = out.get("frontchannel_logout_uri")
    if front and origin(front) not in {origin(u) for u in redirect_uris}:
        raise InvalidClientMetadata(
            "frontchannel_logout_uri",
            "must have the scheme, host and port of one of the redirect_uris",
        )


def _check_subject_type(
    data: Mapping[str, Any], _policy: MetadataPolicy, out: dict[str, Any]
) -> None:
    subject_type = data.get("subject_type", "public")
    if subject_type != "public":
        raise InvalidClientMetadata("subject_type", "only public subject identifiers are supported")
    if "subject_type" in data:
        out["subject_type"] = "public"


def _check_max_age(data: Mapping[str, Any], _policy: MetadataPolicy, out: dict[str, Any]) -> None:
    """default_max_age (OIDC Registration 2) and require_auth_time."""
    if "default_max_age" in data:
        value = data["default_max_age"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InvalidClientMetadata("default_max_age", "must be a number of seconds >= 0")
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            raise InvalidClientMetadata("default_max_age", "must be a whole number of seconds")
        out["default_max_age"] = int(value)
    if "require_auth_time" in data:
        out["require_auth_time"] = _bool(data, "require_auth_time")


def _check_acr_values(data: Mapping[str, Any], policy: MetadataPolicy, out: dict[str, Any]) -> None:
    acr_values = _string_list(data, "default_acr_values")
    unknown = [v for v in acr_values if v not in policy.acr_values]
    if unknown:
        raise InvalidClientMetadata(
            "default_acr_values",
            f"{', '.join(unknown)} not supported (supported: {', '.join(policy.acr_values)})",
        )
    if acr_values:
        out["default_acr_values"] = acr_values


def _check_initiate_login_uri(
    data: Mapping[str, Any], policy: MetadataPolicy, out: dict[str, Any]
) -> None:
    if "initiate_login_uri" in data:
        out["initiate_login_uri"] = _web_uri(
            data["initiate_login_uri"], "initiate_login_uri", policy.development
        )


def _bool(data: Mapping[str, Any], field: str) -> bool:
    value = data[field]
    if not isinstance(value, bool):
        raise InvalidClientMetadata(field, "must be true or false")
    return value


# The field groups validate_metadata checks, in order (see there).
FIELD_GROUPS: tuple[Callable[[Mapping[str, Any], MetadataPolicy, dict[str, Any]], None], ...] = (
    _check_client_type,
    _check_grants,
    _check_redirect_uris,
    _check_scope,
    _check_signing_algs,
    _check_keys,
    _check_logout_uris,
    _check_subject_type,
    _check_max_age,
    _check_acr_values,
    _check_initiate_login_uri,
    _check_display,
    _check_contacts_and_audiences,
    _check_admin_automation,
)
