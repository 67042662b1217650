"""One brokered sign-in, from the button to a verified upstream identity.

`begin` makes the authorization request: PKCE (S256), `state` and `nonce`, all random,
kept with `next` in a sealed cookie (AES-GCM, idp.sealing) that lives
UPSTREAM_FLOW_SECONDS and is bound to the upstream's name; nothing is stored server-side
for a sign-in that never comes back. `finish` checks the callback against that cookie
(state, RFC 9207 `iss`, the upstream's own error), redeems the code, checks the ID token,
fetches userinfo when the ID token is thin, and maps the claims and the level:
`VerifiedIdentity`. The view deletes the cookie whatever happens, so a callback cannot be
used twice in one browser, and the code is bound to the verifier (PKCE), so a code
injected from another browser cannot be redeemed.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from idp import sealing
from idp.assurance import ACR_RANK
from idp.upstreams import client, tokens
from idp.upstreams.client import (
    CLAIMS,
    ID_TOKEN_ONLY,
    ISSUER,
    LEVEL,
    MAX_CLAIM_TEXT,
    STATE,
    UPSTREAM_DENIED,
    Limits,
    Metadata,
    UpstreamError,
)
from idp.upstreams.config import Upstream, link_key_for

FLOW_SALT = b"idp-upstream-flow"
FLOW_INFO = b"state-nonce-verifier"
# The upstream's own error code is shown only when it is one of OAuth's (RFC 6749 4.1.2.1,
# OIDC Core 3.1.2.6); anything else is "another error".
KNOWN_ERRORS = frozenset(
    {
        "access_denied",
        "invalid_request",
        "unauthorized_client",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "interaction_required",
        "login_required",
        "account_selection_required",
        "consent_required",
        "unmet_authentication_requirements",
    }
)
MAX_LIST = 20


@dataclass(frozen=True)
class FlowState:
    upstream: str
    state: str
    nonce: str
    verifier: str
    next_url: str
    issued_at: int


def _seal_secret(config: Mapping[str, Any]) -> str:
    return sealing.key_encryption_key(config)


def seal_flow(flow: FlowState, config: Mapping[str, Any]) -> str:
    plaintext = json.dumps(asdict(flow)).encode()
    return sealing.seal(
        _seal_secret(config), plaintext, flow.upstream.encode(), salt=FLOW_SALT, info=FLOW_INFO
    )


def open_flow(
    value: str | None, upstream: str, config: Mapping[str, Any], now: float | None = None
) -> FlowState:
    """The sign-in this browser started at `upstream`; UpstreamError STATE when there is
    none, it was for another upstream, it was altered, or it is older than allowed."""
    if not value or len(value) > 4096:
        raise UpstreamError(STATE, "no sign-in was started in this browser")
    try:
        plaintext = sealing.unseal(
            _seal_secret(config), value, upstream.encode(), salt=FLOW_SALT, info=FLOW_INFO
        )
        flow = FlowState(**json.loads(plaintext))
    except (sealing.UnsealError, ValueError, TypeError):
        raise UpstreamError(STATE, "the sign-in cookie is not for this upstream") from None
    now = time.time() if now is None else now
    if now - flow.issued_at > int(config["UPSTREAM_FLOW_SECONDS"]):
        raise UpstreamError(STATE, "the sign-in took too long")
    return flow


def code_challenge(verifier: str) -> str:
    """RFC 7636 4.2, S256 (Authlib's client side)."""
    return create_s256_code_challenge(verifier)


def acr_values_to_send(upstream: Upstream, goal: str | None) -> tuple[str, ...]:
    """The upstream's configured acr_values; with forward_acr_values, the upstream's values
    that map to the level a relying party asked of us (when the table has any)."""
    if upstream.forward_acr_values and goal in ACR_RANK:
        wanted = [value for value, ours in upstream.levels.items() if ours == goal]
        if wanted:
            return tuple(wanted)
    return upstream.acr_values


def begin(
    upstream: Upstream,
    meta: Metadata,
    *,
    redirect_uri: str,
    next_url: str,
    goal: str | None,
    config: Mapping[str, Any],
    force: bool = False,
) -> tuple[str, str]:
    """(the upstream's authorization URL, the sealed flow cookie's value). `force`: our
    sign-in must be fresh (prompt=login, max_age), so the upstream is sent prompt=login."""
    flow = FlowState(
        upstream=upstream.name,
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        verifier=secrets.token_urlsafe(48),
        next_url=next_url,
        issued_at=int(time.time()),
    )
    url = client.authorization_url(
        upstream,
        meta,
        redirect_uri=redirect_uri,
        state=flow.state,
        nonce=flow.nonce,
        code_challenge=code_challenge(flow.verifier),
        acr_values=acr_values_to_send(upstream, goal),
        prompt="login" if force else None,
    )
    return url, seal_flow(flow, config)


def check_response(
    upstream: Upstream, meta: Metadata, flow: FlowState, args: Mapping[str, str]
) -> str:
    """The code of the authorization response, once its state and issuer are ours."""
    state = args.get("state", "")
    if not state or not secrets.compare_digest(state.encode(), flow.state.encode()):
        raise UpstreamError(STATE, "the state is missing or not the one we sent")
    iss = args.get("iss")
    if iss is not None and iss != upstream.issuer:
        # RFC 9207 2.4: an answer naming another issuer is a mix-up attack.
        raise UpstreamError(ISSUER, "the answer's iss is another issuer's")
    if iss is None and meta.iss_parameter_supported:
        raise UpstreamError(ISSUER, "the upstream promises iss in its answers, none came")
    error = args.get("error")
    if error:
        known = error if error in KNOWN_ERRORS else "other"
        raise UpstreamError(UPSTREAM_DENIED, known)
    code = args.get("code", "")
    if not code or len(code) > 2048:
        raise UpstreamError(UPSTREAM_DENIED, "no code in the answer")
    return code


# ---------------------------------------------------------------- claims and levels


def claim_at(claims: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at a path of claim names, each step matched exactly, else ignoring case
    (one match only); None when absent."""
    value: Any = claims
    for step in path:
        if not isinstance(value, Mapping):
            return None
        if step in value:
            value = value[step]
            continue
        folded = [k for k in value if isinstance(k, str) and k.casefold() == step.casefold()]
        if len(folded) != 1:
            return None
        value = value[folded[0]]
    return value


def _attribute(value: Any, date_format: str) -> Any:
    if date_format:
        try:
            return datetime.strptime(str(value), date_format).date().isoformat()
        except ValueError:
            return None
    if isinstance(value, str):
        return value.strip()[:MAX_CLAIM_TEXT] or None
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict) and len(json.dumps(value)) <= 1024:
        return value
    return None


def map_claims(upstream: Upstream, claims: Mapping[str, Any]) -> dict[str, Any]:
    """Our attributes from the upstream's claims, by the upstream's claim mapping; a value
    that does not parse (a date in another format) is left out."""
    attributes = {}
    for attribute, rule in upstream.claims.items():
        raw = claim_at(claims, rule.path)
        if raw is None:
            continue
        value = _attribute(raw, rule.date_format)
        if value is not None:
            attributes[attribute] = value
    return attributes


def _words(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value[:MAX_CLAIM_TEXT]]
    if isinstance(value, list):
        return [v[:MAX_CLAIM_TEXT] for v in value[:MAX_LIST] if isinstance(v, str)]
    return []


def level_of(
    upstream: Upstream, id_claims: Mapping[str, Any], claims: Mapping[str, Any]
) -> tuple[str | None, list[str], str]:
    """(the upstream's acr, the values of its other level claims, our level): the highest
    of our levels the upstream's values map to through `levels`, else `default_level`;
    UpstreamError LEVEL when neither gives one. Never more than the table says."""
    acr = id_claims.get("acr") if isinstance(id_claims.get("acr"), str) else None
    said: list[str] = []
    others: list[str] = []
    for name in upstream.level_claims:
        source = id_claims if name == "acr" else claims
        values = _words(claim_at(source, (name,)))
        said += values
        if name != "acr":
            others += values
    mapped = [upstream.levels[v] for v in said if v in upstream.levels]
    if mapped:
        return acr, others, max(mapped, key=lambda ours: ACR_RANK[ours])
    if upstream.default_level:
        return acr, others, upstream.default_level
    raise UpstreamError(LEVEL, "the upstream's level maps to none of ours")


def needs_userinfo(upstream: Upstream, meta: Metadata, id_claims: Mapping[str, Any]) -> bool:
    if not meta.endpoint("userinfo_endpoint") or upstream.userinfo == "never":
        return False
    if upstream.userinfo == "always":
        return True
    paths = [(upstream.link_claim,), *(rule.path for rule in upstream.claims.values())]
    paths += [(name,) for name in upstream.level_claims]
    return any(claim_at(id_claims, path) is None for path in paths)


def link_value(upstream: Upstream, claims: Mapping[str, Any]) -> str:
    value = claim_at(claims, (upstream.link_claim,))
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_CLAIM_TEXT:
        raise UpstreamError(CLAIMS, f"the link claim {upstream.link_claim} is missing")
    return value.strip()


# ---------------------------------------------------------------- the verified identity


@dataclass(frozen=True)
class VerifiedIdentity:
    """Who the upstream says signed in, every check passed: what linking, the session and
    the pending link step read. JSON-serialisable (`as_json`, `from_json`)."""

    upstream: str
    sub: str
    sid: str | None
    # upstream_links.link_key: the link claim's value, or its keyed hash.
    link_key: str
    # Our attributes, by the upstream's claim mapping (idp.upstreams.config.ATTRIBUTES).
    attributes: dict[str, Any] = field(default_factory=dict)
    acr: str | None = None
    loas: list[str] = field(default_factory=list)
    amr: list[str] = field(default_factory=list)
    # Our level (urn:hg:loa:N) the settings' table gave.
    level: str = ""
    id_token: str = ""
    auth_time: int | None = None

    def as_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> VerifiedIdentity:
        return cls(**json.loads(text))


def _auth_time(claims: Mapping[str, Any]) -> int | None:
    value = claims.get("auth_time")
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def finish(
    upstream: Upstream,
    limits: Limits,
    meta: Metadata,
    flow: FlowState,
    args: Mapping[str, str],
    *,
    redirect_uri: str,
    config: Mapping[str, Any],
) -> VerifiedIdentity:
    """The callback's answer checked and turned into a VerifiedIdentity; UpstreamError
    with the reason otherwise."""
    code = check_response(upstream, meta, flow, args)
    answer = tokens.exchange_code(
        upstream, limits, meta, code=code, verifier=flow.verifier, redirect_uri=redirect_uri
    )
    id_claims = tokens.check_id_token(upstream, limits, meta, answer["id_token"], nonce=flow.nonce)
    claims = dict(id_claims)
    if needs_userinfo(upstream, meta, id_claims):
        userinfo = tokens.fetch_userinfo(
            upstream, limits, meta, answer["access_token"], id_claims["sub"]
        )
        claims.update({k: v for k, v in userinfo.items() if k not in ID_TOKEN_ONLY})
    acr, loas, level = level_of(upstream, id_claims, claims)
    return VerifiedIdentity(
        upstream=upstream.name,
        sub=id_claims["sub"],
        sid=id_claims.get("sid"),
        link_key=link_key_for(upstream, link_value(upstream, claims), config),
        attributes=map_claims(upstream, claims),
        acr=acr,
        loas=loas,
        amr=_words(id_claims.get("amr")),
        level=level,
        id_token=answer["id_token"],
        auth_time=_auth_time(id_claims),
    )
