"""The upstream providers of the settings, parsed and checked once at start-up
(docs/upstreams.md, "Settings").

Each `[UPSTREAMS.<name>]` table of the settings (defaults.toml, IDP_UPSTREAMS as JSON, or
the TOML/JSON file named by IDP_UPSTREAMS_FILE) becomes one frozen `Upstream`. Nothing
about one upstream is code: endpoints, claims, the link claim and the levels are all here.
A secret never has to be in a file under version control: IDP_UPSTREAM_<NAME>_CLIENT_SECRET
or `client_secret_file`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from idp.assurance import ACR_RANK
from idp.sealing import key_encryption_key
from idp.settings import SettingsError

# A name is part of a URL (/login/upstream/<name>) and of an environment variable.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,31}")
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
PRIVATE_KEY_ALGS = ("RS256", "PS256", "ES256")
# Asymmetric signatures, and HS256 keyed with our client secret (OIDC Core 10.1) only when
# asked for: `none` is no signature, and an HMAC "verified" with a key anyone can read
# (the upstream's public key) proves nothing. The secret must then be at least as long as
# the hash (RFC 7518 3.2).
ASYMMETRIC_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
HMAC_ALGS = ("HS256",)
ID_TOKEN_ALGS_ALLOWED = ASYMMETRIC_ALGS + HMAC_ALGS
ID_TOKEN_ALGS_DEFAULT = ("RS256", "PS256", "ES256")
HMAC_SECRET_MIN_BYTES = 32
USERINFO_MODES = ("auto", "always", "never")
# Our attributes a claim mapping may fill (the person's record, and what account creation
# and linking by e-mail read).
ATTRIBUTES = (
    "name",
    "family_name",
    "middle_name",
    "given_name",
    "email",
    "email_verified",
    "phone_number",
    "birthdate",
    "identification_number",
    "account_type",
    "locality",
    "address",
    "tech_id",
)
ENDPOINTS = (
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "end_session_endpoint",
)
# Known keys of an upstream table: a misspelt one is an error, not silently ignored.
KEYS = frozenset(
    {
        "display_name",
        "logo",
        "issuer",
        "discovery",
        "discovery_url",
        *ENDPOINTS,
        "backchannel_logout_supported",
        "authorization_response_iss_parameter_supported",
        "client_id",
        "client_secret",
        "client_secret_file",
        "client_auth_method",
        "private_key_file",
        "private_key_kid",
        "private_key_alg",
        "scopes",
        "acr_values",
        "forward_acr_values",
        "claims",
        "link_claim",
        "link_hashed",
        "level_claims",
        "levels",
        "default_level",
        "logout_url",
        "trust_verified_email",
        "create_accounts",
        "create_in_unit",
        "id_token_signing_alg_values",
        "userinfo",
        "allow_private_addresses",
        "enabled",
    }
)


@dataclass(frozen=True)
class ClaimRule:
    """Where one of our attributes comes from: a path into the upstream's claims
    (`address.locality`; each step matched exactly, else ignoring case), and for dates
    the upstream's format (`%Y%m%d`), turned into ISO 8601 (`YYYY-MM-DD`)."""

    path: tuple[str, ...]
    date_format: str = ""


@dataclass(frozen=True)
class Upstream:
    name: str
    display_name: str
    issuer: str
    client_id: str
    logo: str = ""
    discovery: bool = True
    discovery_url: str = ""
    # Given one by one (no discovery), or overriding what discovery says.
    endpoints: Mapping[str, str] = field(default_factory=dict)
    backchannel_logout_supported: bool | None = None
    iss_parameter_supported: bool | None = None
    client_auth_method: str = "client_secret_basic"
    client_secret: str = field(default="", repr=False)
    private_key_pem: str = field(default="", repr=False)
    private_key_kid: str = ""
    private_key_alg: str = "RS256"
    scopes: tuple[str, ...] = ("openid",)
    acr_values: tuple[str, ...] = ()
    forward_acr_values: bool = False
    claims: Mapping[str, ClaimRule] = field(default_factory=dict)
    link_claim: str = "sub"
    link_hashed: bool = True
    level_claims: tuple[str, ...] = ("acr",)
    levels: Mapping[str, str] = field(default_factory=dict)
    default_level: str = ""
    logout_url: str = ""
    trust_verified_email: bool = False
    create_accounts: bool = False
    create_in_unit: str = ""
    id_token_algs: tuple[str, ...] = ID_TOKEN_ALGS_DEFAULT
    userinfo: str = "auto"
    allow_private_addresses: bool = False

    @property
    def discovery_document_url(self) -> str:
        return self.discovery_url or self.issuer.rstrip("/") + "/.well-known/openid-configuration"


def _problem(name: str, message: str) -> SettingsError:
    return SettingsError(f"upstream {name!r}: {message}")


def _text(name: str, table: Mapping[str, Any], key: str, default: str = "") -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value.isprintable():
        raise _problem(name, f"{key} must be text")
    return value.strip()


def _flag(name: str, table: Mapping[str, Any], key: str, default: bool | None) -> bool | None:
    value = table.get(key, default)
    if value is not None and not isinstance(value, bool):
        raise _problem(name, f"{key} must be true or false")
    return value


def _words(name: str, table: Mapping[str, Any], key: str, default: tuple[str, ...]) -> tuple:
    value = table.get(key, list(default))
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list) or not all(
        isinstance(v, str) and v and v.isprintable() and " " not in v for v in value
    ):
        raise _problem(name, f"{key} must be a list of words")
    return tuple(value)


def _url(name: str, key: str, value: Any, *, required: bool = False) -> str:
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str):
        raise _problem(name, f"{key} must be a URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise _problem(name, f"{key} must be an absolute http(s) URL without fragment")
    if "@" in parts.netloc or not value.isascii() or any(c in value for c in "\\ \t\r\n"):
        raise _problem(name, f"{key} must be a plain http(s) URL (no userinfo, no spaces)")
    return value


def _claim_rules(name: str, table: Mapping[str, Any]) -> dict[str, ClaimRule]:
    given = table.get("claims", {})
    if not isinstance(given, Mapping):
        raise _problem(name, 'claims must be a table: our attribute = "upstream.claim.path"')
    rules = {}
    for attribute, spec in given.items():
        if attribute not in ATTRIBUTES:
            raise _problem(
                name, f"claims: unknown attribute {attribute!r} (one of {', '.join(ATTRIBUTES)})"
            )
        if isinstance(spec, str):
            spec = {"claim": spec}
        if not isinstance(spec, Mapping) or not isinstance(spec.get("claim"), str):
            raise _problem(
                name, f"claims.{attribute} must be a claim path or {{claim, date_format}}"
            )
        path = tuple(spec["claim"].split("."))
        if not all(path):
            raise _problem(name, f"claims.{attribute}: {spec['claim']!r} is not a claim path")
        date_format = spec.get("date_format", "")
        if not isinstance(date_format, str) or (date_format and "%" not in date_format):
            raise _problem(name, f"claims.{attribute}.date_format must be a strptime format")
        rules[attribute] = ClaimRule(path, date_format)
    return rules


def _levels(name: str, table: Mapping[str, Any]) -> tuple[dict[str, str], str]:
    levels = table.get("levels", {})
    if not isinstance(levels, Mapping):
        raise _problem(name, 'levels must be a table: upstream value = "urn:hg:loa:N"')
    for value, ours in levels.items():
        if ours not in ACR_RANK:
            raise _problem(
                name, f"levels.{value} must be one of our levels ({', '.join(ACR_RANK)})"
            )
    default = table.get("default_level", "")
    if default != "" and default not in ACR_RANK:
        raise _problem(name, f"default_level must be empty or one of {', '.join(ACR_RANK)}")
    return dict(levels), default


def _secret(name: str, table: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    env_name = f"IDP_UPSTREAM_{name.upper().replace('-', '_')}_CLIENT_SECRET"
    if environ.get(env_name):
        return environ[env_name]
    path = _text(name, table, "client_secret_file")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise _problem(
                name, f"client_secret_file {path!r} cannot be read: {exc.strerror}"
            ) from None
    return _text(name, table, "client_secret")


def _private_key(name: str, table: Mapping[str, Any]) -> str:
    path = _text(name, table, "private_key_file")
    if not path:
        raise _problem(name, "private_key_jwt needs private_key_file (a PEM private key)")
    try:
        pem = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise _problem(name, f"private_key_file {path!r} cannot be read: {exc.strerror}") from None
    if "PRIVATE KEY" not in pem:
        raise _problem(name, f"private_key_file {path!r} holds no PEM private key")
    return pem


def _endpoints(name: str, table: Mapping[str, Any], discovery: bool) -> dict[str, str]:
    endpoints = {key: _url(name, key, table.get(key)) for key in ENDPOINTS if table.get(key)}
    if not discovery:
        for key in ("authorization_endpoint", "token_endpoint"):
            if key not in endpoints:
                raise _problem(name, f"without discovery, {key} must be given")
    return endpoints


def _client(name: str, table: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    method = table.get("client_auth_method", "client_secret_basic")
    if method not in CLIENT_AUTH_METHODS:
        raise _problem(name, f"client_auth_method must be one of {', '.join(CLIENT_AUTH_METHODS)}")
    found: dict[str, Any] = {"client_auth_method": method}
    if method == "private_key_jwt":
        found["private_key_pem"] = _private_key(name, table)
        found["private_key_kid"] = _text(name, table, "private_key_kid")
        alg = table.get("private_key_alg", "RS256")
        if alg not in PRIVATE_KEY_ALGS:
            raise _problem(name, f"private_key_alg must be one of {', '.join(PRIVATE_KEY_ALGS)}")
        found["private_key_alg"] = alg
    else:
        secret = _secret(name, table, environ)
        if not secret:
            raise _problem(
                name,
                f"{method} needs a client secret: IDP_UPSTREAM_"
                f"{name.upper().replace('-', '_')}_CLIENT_SECRET, client_secret_file or "
                "client_secret",
            )
        found["client_secret"] = secret
    return found


def _algorithms(name: str, table: Mapping[str, Any], client: Mapping[str, Any]) -> tuple:
    algs = _words(name, table, "id_token_signing_alg_values", ID_TOKEN_ALGS_DEFAULT)
    refused = [a for a in algs if a not in ID_TOKEN_ALGS_ALLOWED]
    if refused or not algs:
        raise _problem(
            name,
            f"id_token_signing_alg_values may hold only {', '.join(ID_TOKEN_ALGS_ALLOWED)} "
            "(never none)",
        )
    secret = client.get("client_secret", "")
    if set(algs) & set(HMAC_ALGS) and len(secret.encode()) < HMAC_SECRET_MIN_BYTES:
        raise _problem(
            name,
            "HS256 ID tokens are keyed with our client secret, which must then be given and "
            f"at least {HMAC_SECRET_MIN_BYTES} bytes long",
        )
    if (
        not upstream_needs_no_jwks(algs)
        and not table.get("jwks_uri")
        and not table.get("discovery", True)
    ):
        raise _problem(name, "without discovery, jwks_uri must be given")
    return algs


def upstream_needs_no_jwks(algs: tuple[str, ...]) -> bool:
    """True when every allowed algorithm is an HMAC (keyed with our client secret)."""
    return all(a in HMAC_ALGS for a in algs)


def _choices(name: str, table: Mapping[str, Any]) -> dict[str, Any]:
    userinfo = table.get("userinfo", "auto")
    if userinfo not in USERINFO_MODES:
        raise _problem(name, f"userinfo must be one of {', '.join(USERINFO_MODES)}")
    scopes = _words(name, table, "scopes", ("openid",))
    if "openid" not in scopes:
        raise _problem(name, "scopes must include openid")
    return {"userinfo": userinfo, "scopes": scopes}


def _accounts(name: str, table: Mapping[str, Any]) -> dict[str, Any]:
    create = bool(_flag(name, table, "create_accounts", False))
    unit = _text(name, table, "create_in_unit")
    if create and not unit:
        raise _problem(name, "create_accounts needs create_in_unit (a unit's code)")
    logout_url = _text(name, table, "logout_url")
    if logout_url:
        _url(name, "logout_url", logout_url.split("{", 1)[0] or "x")
    return {
        "create_accounts": create,
        "create_in_unit": unit,
        "logout_url": logout_url,
        "trust_verified_email": bool(_flag(name, table, "trust_verified_email", False)),
    }


def parse_upstream(name: str, table: Any, environ: Mapping[str, str]) -> Upstream:
    """One upstream from its settings table; SettingsError with a one-line reason."""
    if not NAME_PATTERN.fullmatch(name):
        raise SettingsError(
            f"upstream name {name!r}: lower-case letters, digits, - and _ (a letter first, "
            "at most 32)"
        )
    if not isinstance(table, Mapping):
        raise _problem(name, "must be a table of settings")
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise _problem(name, f"unknown setting {unknown[0]!r}")
    discovery = bool(_flag(name, table, "discovery", True))
    display_name = _text(name, table, "display_name")
    client_id = _text(name, table, "client_id")
    if not display_name or not client_id:
        raise _problem(name, "display_name and client_id must be given")
    levels, default_level = _levels(name, table)
    logo = _text(name, table, "logo")
    if logo and (not logo.startswith("/") or logo.startswith("//") or "\\" in logo):
        raise _problem(name, "logo must be a path on this site (/static/...)")
    client = _client(name, table, environ)
    link_claim = _text(name, table, "link_claim", "sub")
    if not link_claim:
        raise _problem(name, "link_claim must name a claim")
    return Upstream(
        name=name,
        display_name=display_name,
        issuer=_url(name, "issuer", table.get("issuer"), required=True),
        client_id=client_id,
        logo=logo,
        discovery=discovery,
        discovery_url=_url(name, "discovery_url", table.get("discovery_url")),
        endpoints=_endpoints(name, table, discovery),
        backchannel_logout_supported=_flag(name, table, "backchannel_logout_supported", None),
        iss_parameter_supported=_flag(
            name, table, "authorization_response_iss_parameter_supported", None
        ),
        acr_values=_words(name, table, "acr_values", ()),
        forward_acr_values=bool(_flag(name, table, "forward_acr_values", False)),
        claims=_claim_rules(name, table),
        link_claim=link_claim,
        link_hashed=bool(_flag(name, table, "link_hashed", True)),
        level_claims=_words(name, table, "level_claims", ("acr",)),
        levels=levels,
        default_level=default_level,
        allow_private_addresses=bool(_flag(name, table, "allow_private_addresses", False)),
        **client,
        id_token_algs=_algorithms(name, table, client),
        **_choices(name, table),
        **_accounts(name, table),
    )


def _from_file(path: str) -> Mapping[str, Any]:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise SettingsError(f"IDP_UPSTREAMS_FILE {path!r} cannot be read: {exc.strerror}") from None
    try:
        data = json.loads(raw) if path.endswith(".json") else tomllib.loads(raw.decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise SettingsError(f"IDP_UPSTREAMS_FILE {path!r} cannot be parsed: {exc}") from None
    # A TOML file may hold [UPSTREAMS.<name>] tables or bare [<name>] tables.
    tables = data.get("UPSTREAMS", data) if isinstance(data, Mapping) else None
    if not isinstance(tables, Mapping):
        raise SettingsError(f"IDP_UPSTREAMS_FILE {path!r} must hold a table per upstream")
    return tables


def load_upstreams(
    config: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> dict[str, Upstream]:
    """Every enabled upstream of the settings, by name, in the order given."""
    tables = config.get("UPSTREAMS") or {}
    if not isinstance(tables, Mapping):
        raise SettingsError("IDP_UPSTREAMS must be a table (JSON object) of upstreams")
    path = config.get("UPSTREAMS_FILE") or ""
    if not isinstance(path, str):
        raise SettingsError("IDP_UPSTREAMS_FILE must be a file path")
    if path:
        tables = {**tables, **_from_file(path)}
    environ = os.environ if environ is None else environ
    upstreams = {}
    for name, table in tables.items():
        if isinstance(table, Mapping) and table.get("enabled", True) is False:
            continue
        upstreams[name] = parse_upstream(name, table, environ)
    return upstreams


UPSTREAM_SECONDS_SETTINGS = (
    "UPSTREAM_HTTP_SECONDS",
    "UPSTREAM_FLOW_SECONDS",
    "UPSTREAM_LINK_SECONDS",
    "UPSTREAM_METADATA_CACHE_SECONDS",
    "UPSTREAM_JWKS_REFETCH_MIN_SECONDS",
    "UPSTREAM_CLOCK_SKEW_SECONDS",
)


def check_upstream_settings(config: Mapping[str, Any]) -> None:
    for key in UPSTREAM_SECONDS_SETTINGS:
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise SettingsError(f"IDP_{key} must be a positive number of seconds")
    size = config.get("UPSTREAM_MAX_BYTES")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1024:
        raise SettingsError("IDP_UPSTREAM_MAX_BYTES must be an integer of 1024 or more")


# ---------------------------------------------------------------- the link key

LINK_KEY_SALT = b"idp-upstream-link-keys"


def link_key_secret(config: Mapping[str, Any]) -> bytes:
    """The HMAC key of hashed link keys, derived (HKDF-SHA256) from the key-encryption key:
    a database dump alone does not give a personal identification number back, nor lets
    anyone test guesses against it."""
    secret = key_encryption_key(config).encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=LINK_KEY_SALT, info=b"link-key").derive(
        secret
    )


def link_key_for(upstream: Upstream, value: str, config: Mapping[str, Any]) -> str:
    """What upstream_links.link_key holds for this link claim value: the value itself, or
    `h1:` and its HMAC-SHA256 (keyed per upstream) when the upstream's link_hashed is on."""
    if not upstream.link_hashed:
        return value
    message = upstream.name.encode() + b"\x00" + value.encode()
    digest = hmac.new(link_key_secret(config), message, hashlib.sha256).hexdigest()
    return "h1:" + digest
