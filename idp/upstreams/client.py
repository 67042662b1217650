"""A strict OpenID Connect client toward an upstream provider (docs/upstreams.md, "Security
choices"): calls, metadata, keys and the authorization request here; the token request,
the ID token and userinfo in idp.upstreams.tokens.

Every call goes through idp.outbound (the address checked and pinned, no redirects, one
deadline for the whole exchange, a size cap); an upstream on a non-public address is
called only when its settings say `allow_private_addresses`. The discovery document must
name the configured issuer (a document naming another is a mix-up); JWKS are cached and
refetched at once when an ID token names an unknown `kid` (key roll-over), but at most once
per UPSTREAM_JWKS_REFETCH_MIN_SECONDS, so a stream of forged `kid`s cannot make us hammer
the upstream. ID tokens are checked as OpenID Connect Core 3.1.3.7 asks, with asymmetric
algorithms of the upstream's allowed list only.

Caches live in the process: they hold public documents, never state, and each process
fills its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from joserfc.jwk import KeySet

from idp import jsontext, jwkset
from idp.outbound import DEADLINE, PROTOCOL, REDIRECT, TOO_LARGE, OutboundError, fetch
from idp.upstreams.config import ENDPOINTS, Upstream, upstream_needs_no_jwks

# What went wrong, as the error page and the audit event name it.
UPSTREAM_DENIED = "upstream_error"  # the upstream answered with error=...
STATE = "state"  # missing, wrong, expired or replayed state
ISSUER = "issuer"  # wrong iss in the answer or the token, a mix-up
METADATA = "metadata"  # discovery document or JWKS unusable
UNREACHABLE = "unreachable"  # the upstream could not be called (or may not be)
BAD_ANSWER = "bad_answer"  # too large, a redirect, broken HTTP
SLOW = "slow"  # the upstream did not answer in time
TOKEN = "token"  # the token endpoint refused or answered nonsense
ID_TOKEN = "id_token"  # the ID token is malformed, its signature or a claim is wrong
NONCE = "nonce"  # missing or wrong nonce
EXPIRED = "expired"  # the ID token is expired or not yet valid
USERINFO = "userinfo"  # userinfo refused, or its sub is not the ID token's
CLAIMS = "claims"  # the link claim is missing or unusable
LEVEL = "level"  # the upstream's level maps to none of ours
REFUSED_ACCOUNT = "account_disabled"  # the linked person may not sign in
UNKNOWN_UPSTREAM = "unknown_upstream"

JSON_MAX_DEPTH = 16
# Claims of the ID token that userinfo never overrides (OIDC Core 5.3.2: userinfo's own
# sub must equal the ID token's; the rest are about the token itself).
ID_TOKEN_ONLY = frozenset(
    {
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "nonce",
        "azp",
        "auth_time",
        "acr",
        "amr",
        "sid",
        "at_hash",
        "c_hash",
        "jti",
    }
)
MAX_CLAIM_TEXT = 255


class UpstreamError(Exception):
    """A brokered sign-in that cannot go on. `code` names the kind (the page's message and
    the audit event's detail); `detail` is for the logs: never a token, code or secret."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail[:300]


@dataclass(frozen=True)
class Limits:
    """The settings every call uses (UPSTREAM_*)."""

    http_seconds: float
    max_bytes: int
    cache_seconds: float
    refetch_min_seconds: float
    clock_skew_seconds: int
    flow_seconds: int

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Limits:
        return cls(
            http_seconds=float(config["UPSTREAM_HTTP_SECONDS"]),
            max_bytes=int(config["UPSTREAM_MAX_BYTES"]),
            cache_seconds=float(config["UPSTREAM_METADATA_CACHE_SECONDS"]),
            refetch_min_seconds=float(config["UPSTREAM_JWKS_REFETCH_MIN_SECONDS"]),
            clock_skew_seconds=int(config["UPSTREAM_CLOCK_SKEW_SECONDS"]),
            flow_seconds=int(config["UPSTREAM_FLOW_SECONDS"]),
        )


# ---------------------------------------------------------------- HTTP


def call(
    upstream: Upstream,
    limits: Limits,
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One call to the upstream through idp.outbound; UpstreamError SLOW or UNREACHABLE."""
    try:
        answer = fetch(
            url,
            method=method,
            body=body,
            headers=headers,
            deadline_seconds=limits.http_seconds,
            max_bytes=limits.max_bytes,
            allow_private=upstream.allow_private_addresses,
        )
    except OutboundError as exc:
        code = SLOW if exc.reason == DEADLINE else UNREACHABLE
        if exc.reason in (TOO_LARGE, REDIRECT, PROTOCOL):
            code = BAD_ANSWER
        raise UpstreamError(code, f"{urlsplit(url).path}: {exc.message}") from None
    return answer.status, answer.headers, answer.body


def parse_json(body: bytes, limits: Limits, code: str, what: str) -> dict[str, Any]:
    try:
        value = jsontext.loads(body, max_length=limits.max_bytes, max_depth=JSON_MAX_DEPTH)
    except jsontext.InvalidJson:
        raise UpstreamError(code, f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise UpstreamError(code, f"{what} is not a JSON object")
    return value


def get_json(upstream: Upstream, limits: Limits, url: str, code: str, what: str) -> dict:
    status, _headers, body = call(upstream, limits, url, headers={"Accept": "application/json"})
    if status != 200:
        raise UpstreamError(code, f"{what} answered HTTP {status}")
    return parse_json(body, limits, code, what)


# ---------------------------------------------------------------- metadata


@dataclass(frozen=True)
class Metadata:
    """What we need of the upstream: its endpoints and the two flags we act on."""

    endpoints: Mapping[str, str]
    iss_parameter_supported: bool
    backchannel_logout_supported: bool

    def endpoint(self, key: str) -> str:
        return self.endpoints.get(key, "")


_cache_lock = threading.Lock()
_metadata_cache: dict[str, tuple[float, Metadata]] = {}
# name -> (fetched at, key set, last fetch attempt)
_jwks_cache: dict[str, tuple[float, KeySet]] = {}
_jwks_attempts: dict[str, float] = {}
# name -> (failed at, the error): an upstream that is down is not asked again, on every
# click of its button, for this long; each such call could hold a request thread for
# the whole deadline.
_metadata_failures: dict[str, tuple[float, UpstreamError]] = {}
METADATA_RETRY_SECONDS = 10.0


def forget_cached(name: str | None = None) -> None:
    """Drop cached metadata and keys (of one upstream, or all): `idp upstreams test` and
    tests start from nothing."""
    with _cache_lock:
        for cache in (_metadata_cache, _jwks_cache, _jwks_attempts, _metadata_failures):
            for key in [k for k in cache if name is None or k == name]:
                del cache[key]


def _checked_endpoint(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise UpstreamError(METADATA, f"{key} is not a URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise UpstreamError(METADATA, f"{key} is not an http(s) URL")
    return value


def discover(upstream: Upstream, limits: Limits) -> Metadata:
    """The discovery document's endpoints (overridden by the settings'), its issuer
    checked; or the settings' endpoints alone for an upstream without discovery."""
    given = dict(upstream.endpoints)
    if not upstream.discovery:
        return Metadata(
            given,
            bool(upstream.iss_parameter_supported),
            bool(upstream.backchannel_logout_supported),
        )
    document = get_json(
        upstream, limits, upstream.discovery_document_url, METADATA, "the discovery document"
    )
    if document.get("issuer") != upstream.issuer:
        # OpenID Connect Discovery 4.3: the issuer must be exactly the one we asked about.
        raise UpstreamError(ISSUER, "the discovery document names another issuer")
    endpoints = {
        key: _checked_endpoint(key, document[key])
        for key in ENDPOINTS
        if document.get(key) not in (None, "")
    }
    endpoints.update(given)
    for key in ("authorization_endpoint", "token_endpoint"):
        if key not in endpoints:
            raise UpstreamError(METADATA, f"the discovery document has no {key}")
    if "jwks_uri" not in endpoints and not upstream_needs_no_jwks(upstream.id_token_algs):
        raise UpstreamError(METADATA, "the discovery document has no jwks_uri")
    iss_supported = upstream.iss_parameter_supported
    if iss_supported is None:
        iss_supported = document.get("authorization_response_iss_parameter_supported") is True
    backchannel = upstream.backchannel_logout_supported
    if backchannel is None:
        backchannel = document.get("backchannel_logout_supported") is True
    return Metadata(endpoints, iss_supported, backchannel)


def metadata(upstream: Upstream, limits: Limits) -> Metadata:
    """discover(), cached for UPSTREAM_METADATA_CACHE_SECONDS. When it fails, the metadata
    held (stale) is used if there is any; otherwise the failure is answered again, without
    a call, for METADATA_RETRY_SECONDS."""
    now = time.monotonic()
    with _cache_lock:
        cached = _metadata_cache.get(upstream.name)
        failed = _metadata_failures.get(upstream.name)
    if cached is not None and now - cached[0] < limits.cache_seconds:
        return cached[1]
    if failed is not None and now - failed[0] < METADATA_RETRY_SECONDS:
        if cached is not None:
            return cached[1]
        raise UpstreamError(failed[1].code, failed[1].detail)
    try:
        found = discover(upstream, limits)
    except UpstreamError as exc:
        with _cache_lock:
            _metadata_failures[upstream.name] = (now, exc)
        if cached is not None and exc.code in (UNREACHABLE, SLOW, BAD_ANSWER):
            return cached[1]  # the upstream is down: what it said before still holds
        raise
    with _cache_lock:
        _metadata_cache[upstream.name] = (now, found)
        _metadata_failures.pop(upstream.name, None)
    return found


def fetch_jwks(upstream: Upstream, limits: Limits, jwks_uri: str) -> KeySet:
    status, _headers, body = call(upstream, limits, jwks_uri)
    if status != 200:
        raise UpstreamError(METADATA, f"the JWKS answered HTTP {status}")
    try:
        return jwkset.key_set(jwkset.parse(body, max_length=limits.max_bytes))
    except jwkset.InvalidJwks as exc:
        raise UpstreamError(METADATA, f"the JWKS {exc}") from None


def signing_keys(upstream: Upstream, limits: Limits, jwks_uri: str, kid: str | None) -> KeySet:
    """The upstream's keys: cached; refetched when stale, or when `kid` is not among them
    and the last fetch is older than UPSTREAM_JWKS_REFETCH_MIN_SECONDS."""
    now = time.monotonic()
    with _cache_lock:
        cached = _jwks_cache.get(upstream.name)
        last_attempt = _jwks_attempts.get(upstream.name, 0.0)
    if cached is not None:
        fresh = now - cached[0] < limits.cache_seconds
        known = kid is None or any(k.kid == kid for k in cached[1].keys)
        # Stale or missing the kid: refetch, but never twice within the floor (a stream of
        # forged kids, or an upstream that is down, costs one call per interval).
        if (fresh and known) or now - last_attempt < limits.refetch_min_seconds:
            return cached[1]
    with _cache_lock:
        _jwks_attempts[upstream.name] = now
    try:
        keys = fetch_jwks(upstream, limits, jwks_uri)
    except UpstreamError:
        if cached is None:
            raise
        return cached[1]  # the upstream is down: the keys we had may still verify
    with _cache_lock:
        _jwks_cache[upstream.name] = (now, keys)
    return keys


# ---------------------------------------------------------------- the authorization request


def authorization_url(
    upstream: Upstream,
    meta: Metadata,
    *,
    redirect_uri: str,
    state: str,
    nonce: str,
    code_challenge: str,
    acr_values: tuple[str, ...],
    prompt: str | None = None,
) -> str:
    params = {
        "response_type": "code",
        "client_id": upstream.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(upstream.scopes),
        "state": state,
        "nonce": nonce,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    if acr_values:
        params["acr_values"] = " ".join(acr_values)
    if prompt:
        params["prompt"] = prompt
    endpoint = meta.endpoint("authorization_endpoint")
    return endpoint + ("&" if urlsplit(endpoint).query else "?") + urlencode(params)
