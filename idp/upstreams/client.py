"""A strict OpenID Connect client toward an upstream provider (docs/upstreams.md, "Security
choices").

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

import base64
import contextlib
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey, import_key
from joserfc.jws import extract_compact

from idp import jsontext, jwkset
from idp.outbound import DEADLINE, PROTOCOL, REDIRECT, TOO_LARGE, OutboundError, fetch
from idp.upstreams.config import ENDPOINTS, HMAC_ALGS, Upstream, upstream_needs_no_jwks

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


def forget_cached(name: str | None = None) -> None:
    """Drop cached metadata and keys (of one upstream, or all): `idp upstreams test` and
    tests start from nothing."""
    with _cache_lock:
        for cache in (_metadata_cache, _jwks_cache, _jwks_attempts):
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
    """discover(), cached for UPSTREAM_METADATA_CACHE_SECONDS (failures are not cached)."""
    now = time.monotonic()
    with _cache_lock:
        cached = _metadata_cache.get(upstream.name)
    if cached is not None and now - cached[0] < limits.cache_seconds:
        return cached[1]
    found = discover(upstream, limits)
    with _cache_lock:
        _metadata_cache[upstream.name] = (now, found)
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


# ---------------------------------------------------------------- the token request


def _client_assertion(upstream: Upstream, token_endpoint: str) -> str:
    """RFC 7523 client authentication: a short-lived JWT signed with our key for it."""
    now = int(time.time())
    key_type = "EC" if upstream.private_key_alg.startswith("ES") else "RSA"
    key = import_key(upstream.private_key_pem, key_type)
    header = {"alg": upstream.private_key_alg, "typ": "JWT"}
    if upstream.private_key_kid:
        header["kid"] = upstream.private_key_kid
    claims = {
        "iss": upstream.client_id,
        "sub": upstream.client_id,
        "aud": token_endpoint,
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode(header, claims, key, algorithms=[upstream.private_key_alg])


def client_authentication(
    upstream: Upstream, token_endpoint: str, form: dict[str, str]
) -> dict[str, str]:
    """Add our client authentication to the token request's form; its headers."""
    method = upstream.client_auth_method
    if method == "private_key_jwt":
        form["client_id"] = upstream.client_id
        form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        form["client_assertion"] = _client_assertion(upstream, token_endpoint)
        return {}
    if method == "client_secret_post":
        form["client_id"] = upstream.client_id
        form["client_secret"] = upstream.client_secret
        return {}
    # RFC 6749 2.3.1: both parts form-encoded before the Basic encoding.
    pair = f"{_form_escape(upstream.client_id)}:{_form_escape(upstream.client_secret)}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def _form_escape(value: str) -> str:
    return urlencode({"": value})[1:]


def exchange_code(
    upstream: Upstream,
    limits: Limits,
    meta: Metadata,
    *,
    code: str,
    verifier: str,
    redirect_uri: str,
) -> dict[str, Any]:
    """The token response for the code (RFC 6749 4.1.3, RFC 7636 4.5); UpstreamError TOKEN
    when refused or not a token response with an ID token."""
    token_endpoint = meta.endpoint("token_endpoint")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    headers = client_authentication(upstream, token_endpoint, form)
    headers.update(
        {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    )
    status, _headers, body = call(
        upstream,
        limits,
        token_endpoint,
        method="POST",
        body=urlencode(form).encode(),
        headers=headers,
    )
    if status != 200:
        error = ""
        with contextlib.suppress(UpstreamError):
            error = str(parse_json(body, limits, TOKEN, "x").get("error", ""))[:64]
        raise UpstreamError(TOKEN, f"the token endpoint answered HTTP {status} {error}".strip())
    answer = parse_json(body, limits, TOKEN, "the token response")
    if not isinstance(answer.get("id_token"), str) or not answer["id_token"]:
        raise UpstreamError(TOKEN, "the token response has no id_token")
    if not isinstance(answer.get("access_token"), str):
        raise UpstreamError(TOKEN, "the token response has no access_token")
    return answer


# ---------------------------------------------------------------- the ID token


def _header(token: str) -> dict[str, Any]:
    try:
        return dict(extract_compact(token.encode()).protected)
    except (JoseError, ValueError, TypeError):
        raise UpstreamError(ID_TOKEN, "the ID token is not a signed JWT") from None


def verify_signature(
    upstream: Upstream, limits: Limits, meta: Metadata, token: str
) -> dict[str, Any]:
    """The ID token's claims once its signature checks against the upstream's keys (or, for
    HS256 where the settings allow it, our client secret) with an algorithm of its allowed
    list (never `none`)."""
    header = _header(token)
    alg = header.get("alg")
    if alg not in upstream.id_token_algs:
        raise UpstreamError(ID_TOKEN, f"the ID token's algorithm {str(alg)[:16]!r} is not allowed")
    kid = header.get("kid") if isinstance(header.get("kid"), str) else None
    if alg in HMAC_ALGS:
        # OIDC Core 10.1: the octets of our client secret are the key.
        candidates = [OctKey.import_key(upstream.client_secret.encode())]
    else:
        keys = signing_keys(upstream, limits, meta.endpoint("jwks_uri"), kid)
        candidates = [k for k in keys.keys if kid is None or k.kid == kid]
    if not candidates:
        raise UpstreamError(ID_TOKEN, "the ID token's key is not in the upstream's JWKS")
    for key in candidates:
        try:
            decoded = jwt.decode(token, key, algorithms=[alg])
        except (JoseError, ValueError, TypeError):
            continue
        if isinstance(decoded.claims, dict):
            return decoded.claims
    raise UpstreamError(ID_TOKEN, "the ID token's signature is not valid")


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UpstreamError(ID_TOKEN, f"the ID token's {name} is not a number")
    return float(value)


def check_times(claims: Mapping[str, Any], limits: Limits, now: float) -> None:
    skew = limits.clock_skew_seconds
    exp, iat, nbf = _number(claims, "exp"), _number(claims, "iat"), _number(claims, "nbf")
    if exp is None or iat is None:
        raise UpstreamError(ID_TOKEN, "the ID token lacks exp or iat")
    if exp <= now - skew:
        raise UpstreamError(EXPIRED, "the ID token has expired")
    if iat > now + skew or (nbf is not None and nbf > now + skew):
        raise UpstreamError(EXPIRED, "the ID token is not valid yet")
    if iat < now - limits.flow_seconds - skew:
        # Minted for this sign-in, within its lifetime: an older one is a replayed token.
        raise UpstreamError(EXPIRED, "the ID token was issued too long ago")


def check_audience(upstream: Upstream, claims: Mapping[str, Any]) -> None:
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or upstream.client_id not in audiences:
        raise UpstreamError(ID_TOKEN, "the ID token is not meant for us (aud)")
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != upstream.client_id:
        raise UpstreamError(ID_TOKEN, "the ID token's azp is not our client id")


def check_id_token(
    upstream: Upstream,
    limits: Limits,
    meta: Metadata,
    token: str,
    *,
    nonce: str,
    now: float | None = None,
) -> dict[str, Any]:
    """OpenID Connect Core 3.1.3.7: signature, iss, aud/azp, exp/iat/nbf, nonce, sub."""
    claims = verify_signature(upstream, limits, meta, token)
    if claims.get("iss") != upstream.issuer:
        raise UpstreamError(ISSUER, "the ID token's iss is not the upstream's issuer")
    check_audience(upstream, claims)
    check_times(claims, limits, time.time() if now is None else now)
    if "nonce" not in claims:
        raise UpstreamError(NONCE, "the ID token has no nonce")
    if not isinstance(claims["nonce"], str) or not secrets.compare_digest(claims["nonce"], nonce):
        raise UpstreamError(NONCE, "the ID token's nonce is not the one we sent")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_CLAIM_TEXT:
        raise UpstreamError(ID_TOKEN, "the ID token's sub is missing or too long")
    sid = claims.get("sid")
    if sid is not None and (not isinstance(sid, str) or len(sid) > MAX_CLAIM_TEXT):
        raise UpstreamError(ID_TOKEN, "the ID token's sid is not usable")
    return claims


# ---------------------------------------------------------------- userinfo


def fetch_userinfo(
    upstream: Upstream, limits: Limits, meta: Metadata, access_token: str, sub: str
) -> dict[str, Any]:
    """The userinfo claims (a JSON answer; OIDC Core 5.3.2: its `sub` must be the ID
    token's, else the answer is not about this person)."""
    status, headers, body = call(
        upstream,
        limits,
        meta.endpoint("userinfo_endpoint"),
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
    )
    if status != 200:
        raise UpstreamError(USERINFO, f"userinfo answered HTTP {status}")
    if headers.get("content-type", "").split(";")[0].strip() == "application/jwt":
        raise UpstreamError(USERINFO, "signed userinfo answers are not supported")
    claims = parse_json(body, limits, USERINFO, "the userinfo answer")
    if claims.get("sub") != sub:
        raise UpstreamError(USERINFO, "the userinfo sub is not the ID token's")
    return claims
