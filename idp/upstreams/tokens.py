"""The token request, the ID token and userinfo of an upstream (OpenID Connect Core
3.1.3): our client authentication as configured, every check of the ID token, and
userinfo about the same person only. Calls go through idp.upstreams.client.call."""

from __future__ import annotations

import base64
import contextlib
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey, import_key
from joserfc.jws import extract_compact

from idp.upstreams.client import (
    EXPIRED,
    ID_TOKEN,
    ISSUER,
    MAX_CLAIM_TEXT,
    NONCE,
    TOKEN,
    USERINFO,
    Limits,
    Metadata,
    UpstreamError,
    call,
    parse_json,
    signing_keys,
)
from idp.upstreams.config import HMAC_ALGS, Upstream

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
