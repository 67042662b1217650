"""Back-channel logout delivery: OpenID Connect Back-Channel Logout 1.0, sections 2.4-2.8.

For each claimed outbox row a logout token is minted (fresh iat, exp, jti) and POSTed as
`logout_token=...` to the client's backchannel_logout_uri. 200 and 204 mean delivered
(2.8); anything else, a 400 with an error included, is a failed attempt that is retried
later: a relying party with a stale JWKS cache rejects our token until it refreshes it.

The call goes through idp.outbound: the target's addresses checked before connecting and
the connection pinned to them, no redirects followed, LOGOUT_TIMEOUT_SECONDS for the whole
exchange (a relying party that trickles its answer is cut off there, and the attempt
counts as failed), LOGOUT_CONNECT_TIMEOUT_SECONDS for each connection attempt.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from idp import outbound
from idp.extensions import utcnow
from idp.keys.ring import KeyRingError, sign_jwt
from idp.sessions import hooks, outbox

log = logging.getLogger("idp.sessions.delivery")

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYP = "logout+jwt"
USER_AGENT = "idp-backchannel-logout/1"
# Bytes of a relying party's answer read (for the `error` of a 400); the rest is ignored.
RESPONSE_READ_LIMIT = 4096
# A claim's lease covers its slowest possible deliveries with this margin.
LEASE_MARGIN_SECONDS = 30


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class DeliverySettings:
    issuer: str
    token_ttl: int
    connect_timeout: float
    total_timeout: float
    allow_private: bool
    first_delay: float
    max_delay: float

    @classmethod
    def from_config(cls, config: Any) -> DeliverySettings:
        return cls(
            issuer=config["ISSUER"],
            token_ttl=int(config["LOGOUT_TOKEN_TTL_SECONDS"]),
            connect_timeout=float(config["LOGOUT_CONNECT_TIMEOUT_SECONDS"]),
            total_timeout=float(config["LOGOUT_TIMEOUT_SECONDS"]),
            allow_private=outbound.allow_private_targets(config),
            first_delay=float(config["LOGOUT_RETRY_FIRST_DELAY_SECONDS"]),
            max_delay=float(config["LOGOUT_RETRY_MAX_DELAY_SECONDS"]),
        )

    def lease_seconds(self, rows: int) -> float:
        """Long enough to deliver `rows` one after the other, each as slow as allowed."""
        return self.total_timeout * max(rows, 1) + LEASE_MARGIN_SECONDS


# ---------------------------------------------------------------- one HTTP call


@dataclass(frozen=True)
class Outcome:
    ok: bool
    # True when trying again cannot help (the address may not be called, no URI ...).
    permanent: bool = False
    http_status: int | None = None
    error: str | None = None


def _error_code(body: bytes) -> str:
    """The `error` of a JSON error answer (Back-Channel Logout 2.8), if there is one."""
    try:
        value = json.loads(body.decode("utf-8", "replace")).get("error")
    except (ValueError, AttributeError):
        return ""
    return value[:60] if isinstance(value, str) else ""


def post_logout_token(
    uri: str,
    token: str,
    *,
    allow_private: bool,
    connect_timeout: float,
    total_timeout: float,
) -> Outcome:
    """POST the token to the relying party; never raises, never follows a redirect."""
    try:
        answer = outbound.fetch(
            uri,
            method="POST",
            body=urlencode({"logout_token": token}).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            deadline_seconds=total_timeout,
            connect_timeout_seconds=connect_timeout,
            max_bytes=RESPONSE_READ_LIMIT,
            truncate=True,
            allow_private=allow_private,
        )
    except outbound.OutboundError as exc:
        return Outcome(False, permanent=exc.permanent, http_status=exc.status, error=exc.message)
    if answer.status in (200, 204):
        return Outcome(True, http_status=answer.status)
    code = _error_code(answer.body) if answer.status == 400 else ""
    return Outcome(False, http_status=answer.status, error=f"HTTP {answer.status} {code}".strip())


# ---------------------------------------------------------------- logout tokens


def mint_logout_token(client: Any, *, sub: str, sid: str | None, settings: DeliverySettings) -> str:
    """Back-Channel Logout 2.4: iss, aud, iat, exp, jti, events, sub and sid; no nonce.

    Signed like the client's ID tokens (its id_token_signed_response_alg, else RS256),
    with `typ: logout+jwt` (2.4, explicit typing).
    """
    iat = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "sub": sub,
        "aud": client.client_id,
        "iat": iat,
        "exp": iat + settings.token_ttl,
        "jti": secrets.token_urlsafe(16),
        "events": {BACKCHANNEL_EVENT: {}},
    }
    if sid:
        claims["sid"] = sid
    return sign_jwt(claims, alg=hooks.relying_parties().token_alg(client), typ=LOGOUT_TOKEN_TYP)


# ---------------------------------------------------------------- delivering claimed rows


@dataclass
class Attempt:
    """One claimed row on its way: where to, the token, or an outcome known beforehand."""

    row: outbox.Claimed
    uri: str | None = None
    token: str | None = None
    outcome: Outcome | None = None


def prepare(rows: list[outbox.Claimed], settings: DeliverySettings) -> list[Attempt]:
    """Look the clients up and mint the tokens (in the app context, before sending)."""
    find_client = hooks.relying_parties().find_client
    clients = {cid: find_client(cid) for cid in {row.client_id for row in rows}}
    attempts = []
    for row in rows:
        attempt = Attempt(row)
        attempts.append(attempt)
        client = clients.get(row.client_id)
        if client is None:
            attempt.outcome = Outcome(False, permanent=True, error="the client is disabled or gone")
            continue
        attempt.uri = client.meta("backchannel_logout_uri")
        if not attempt.uri:
            attempt.outcome = Outcome(
                False, permanent=True, error="the client no longer has a backchannel_logout_uri"
            )
            continue
        try:
            attempt.token = mint_logout_token(client, sub=row.sub, sid=row.sid, settings=settings)
        except KeyRingError as exc:
            log.error("cannot sign a logout token: %s", exc)
            attempt.outcome = Outcome(False, error="the logout token could not be signed")
    return attempts


def send(attempt: Attempt, settings: DeliverySettings) -> Outcome:
    """The HTTP call, on any thread (no app context needed)."""
    if attempt.outcome is not None:
        return attempt.outcome
    assert attempt.uri is not None and attempt.token is not None
    try:
        return post_logout_token(
            attempt.uri,
            attempt.token,
            allow_private=settings.allow_private,
            connect_timeout=settings.connect_timeout,
            total_timeout=settings.total_timeout,
        )
    except Exception:  # a bug must cost one attempt, not the worker's round
        log.exception("back-channel logout call to %s failed", attempt.row.client_id)
        return Outcome(False, error="unexpected error while sending")


def record(
    finished: list[tuple[Attempt, Outcome]], settings: DeliverySettings, now: datetime
) -> list[str]:
    """Store the outcomes, in one statement (the caller commits); the rows' new statuses."""
    statuses = outbox.record_many(
        [outbox.Result(a.row, o.ok, o.permanent, o.http_status, o.error) for a, o in finished],
        now=now,
        first_delay_seconds=settings.first_delay,
        max_delay_seconds=settings.max_delay,
    )
    for (attempt, outcome), status in zip(finished, statuses, strict=True):
        if not outcome.ok:
            log.warning(
                "back-channel logout to %s not delivered (attempt %d, now %s): %s",
                attempt.row.client_id,
                attempt.row.attempts + 1,
                status,
                outbox.clean_error(outcome.error or ""),
            )
    return statuses


def deliver_rows(
    rows: list[outbox.Claimed],
    settings: DeliverySettings,
    *,
    pool: Executor | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Send the claimed rows (in parallel on `pool`) and store the outcomes (the caller
    commits); their statuses.

    `now` is the clock that schedules retries (tests move it forward); tokens always
    carry the real time.
    """
    if not rows:
        return []
    attempts = prepare(rows, settings)
    if pool is not None and len(attempts) > 1:
        outcomes = list(pool.map(lambda a: send(a, settings), attempts))
    else:
        outcomes = [send(a, settings) for a in attempts]
    statuses = record(list(zip(attempts, outcomes, strict=True)), settings, now or utcnow())
    return statuses
