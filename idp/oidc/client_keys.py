"""The public keys of private_key_jwt clients that registered a `jwks_uri`.

RFC 7523 2.2 and OpenID Connect Core 9 let a client authenticate with an assertion signed
by its own key; Core 10.1.1 lets it rotate keys by publishing new ones at its jwks_uri.
Fetching that document is an outbound call to an address the client chose, so:

- keys are fetched outside the request path: `idp worker` refreshes every such client's
  keys once they are CLIENT_JWKS_REFRESH_SECONDS old (`refresh_stale`), into the database,
  where every web process reads them;
- a request fetches only when there are no usable keys (none yet, another jwks_uri, or
  none fetched within CLIENT_JWKS_MAX_AGE_SECONDS) or the assertion names a kid the keys
  do not have (the client rotated), and then through idp.outbound with
  CLIENT_JWKS_FETCH_SECONDS for the whole exchange;
- the turns and the back-off belong to the client, not to its jwks_uri: registering
  another jwks_uri (RFC 7592) drops the stored keys but does not start a new interval;
- whoever fetches first takes a turn in the database (clients_store.claim_jwks_fetch):
  all processes together fetch one client's jwks_uri at most once per
  CLIENT_JWKS_RETRY_SECONDS, and after failures once per 2, 4, 8 ... times that (at most
  RETRY_MAX_SECONDS). A request that finds the turn taken does not wait: it uses the keys
  there are, or fails at once.

So a slow or hostile jwks_uri costs its own client's requests at most one short wait per
interval, and no other client's and no page's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app
from joserfc.jwk import KeySet

from idp import jwkset, outbound
from idp.clients import store as clients_store
from idp.extensions import rollback, utcnow

log = logging.getLogger("idp.oidc.client_keys")

JWKS_MAX_BYTES = 65536
# The retry interval doubles after each failure in a row, up to this.
RETRY_MAX_SECONDS = 600
# How often `idp worker` looks for keys to refresh.
REFRESH_CHECK_SECONDS = 15
# Parsed key sets kept per process (they are re-read from the database, not re-parsed).
PARSED_MAX_ENTRIES = 1000
_PARSED_KEY = "idp.oidc.client_keys"


class KeysUnavailable(Exception):
    """The client's keys cannot be had now; the message says why (for logs and the stored
    state, never for the client: it may name an internal address)."""


@dataclass(frozen=True)
class Policy:
    fetch_seconds: float
    refresh: timedelta
    max_age: timedelta
    retry_seconds: float
    allow_private: bool
    development: bool

    @classmethod
    def from_config(cls, config: Any) -> Policy:
        return cls(
            fetch_seconds=float(config["CLIENT_JWKS_FETCH_SECONDS"]),
            refresh=timedelta(seconds=config["CLIENT_JWKS_REFRESH_SECONDS"]),
            max_age=timedelta(seconds=config["CLIENT_JWKS_MAX_AGE_SECONDS"]),
            retry_seconds=float(config["CLIENT_JWKS_RETRY_SECONDS"]),
            allow_private=outbound.allow_private_targets(config),
            development=config["ENV"] == "development",
        )

    def retry_after(self, now: datetime, failures: int) -> datetime:
        seconds = self.retry_seconds * 2 ** min(max(failures - 1, 0), 20)
        return now + timedelta(seconds=min(seconds, max(RETRY_MAX_SECONDS, self.retry_seconds)))


# ---------------------------------------------------------------- one fetch


def fetch_jwks(uri: str, policy: Policy) -> dict[str, Any]:
    """The JWK set at `uri`, public members only; KeysUnavailable with the reason."""
    parts = urlsplit(uri)
    loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
    # RFC 7591 2: jwks_uri is https; plain http only for a loopback one in development.
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback and policy.development):
        raise KeysUnavailable("the jwks_uri is not https")
    try:
        answer = outbound.fetch(
            uri,
            headers={"Accept": "application/json"},
            deadline_seconds=policy.fetch_seconds,
            max_bytes=JWKS_MAX_BYTES,
            allow_private=policy.allow_private,
        )
    except outbound.OutboundError as exc:
        raise KeysUnavailable(exc.message) from None
    if answer.status != 200:
        raise KeysUnavailable(f"HTTP {answer.status}")
    try:
        return jwkset.parse(answer.body, max_length=JWKS_MAX_BYTES)
    except jwkset.InvalidJwks as exc:
        raise KeysUnavailable(f"the document {exc}") from None


def _fetch_and_record(client_id: str, uri: str, policy: Policy) -> dict[str, Any]:
    try:
        jwks = fetch_jwks(uri, policy)
    except KeysUnavailable as exc:
        log.warning("fetching the jwks_uri of %s failed: %s", client_id, exc)
        clients_store.record_jwks_failure(
            client_id, uri, str(exc), lambda failures: policy.retry_after(utcnow(), failures)
        )
        raise
    now = utcnow()
    clients_store.record_jwks_fetched(
        client_id, uri, jwks, now, now + timedelta(seconds=policy.retry_seconds)
    )
    return jwks


def _parsed(app: Flask, client_id: str, uri: str, fetched_at: Any, jwks: dict) -> KeySet:
    """The KeySet of a stored document, parsed once per process and version."""
    cache: dict[str, tuple[str, Any, KeySet]] = app.extensions.setdefault(_PARSED_KEY, {})
    entry = cache.get(client_id)
    if entry is not None and entry[0] == uri and entry[1] == fetched_at:
        return entry[2]
    keys = KeySet.import_key_set(jwks)
    if len(cache) >= PARSED_MAX_ENTRIES:
        cache.clear()
    cache[client_id] = (uri, fetched_at, keys)
    return keys


# ---------------------------------------------------------------- in a request


def _has_kid(keys: KeySet, kid: str | None) -> bool:
    return kid is None or any(key.kid == kid for key in keys.keys)


def keys_for(client: Any, kid: str | None) -> KeySet:
    """The keys to verify this client's assertion with (its kid, when it names one).

    Raises KeysUnavailable when there are none to be had now.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    policy = Policy.from_config(app.config)
    uri = client.meta("jwks_uri")
    client_id = client.client_id
    now = utcnow()
    row = clients_store.find_client_jwks(client_id)
    keys = None
    if (
        row is not None
        and row.jwks_uri == uri
        and row.jwks is not None
        and row.fetched_at is not None
        and now - row.fetched_at < policy.max_age
    ):
        keys = _parsed(app, client_id, uri, row.fetched_at, row.jwks)
        if _has_kid(keys, kid):
            return keys
    # Not anyone's turn yet (fetched or failed lately, whatever jwks_uri it was): answer
    # from what there is, without even trying to take the turn (a write).
    waiting = row is not None and row.next_fetch_at > now
    hold = timedelta(seconds=policy.retry_seconds)
    if not waiting and clients_store.claim_jwks_fetch(client_id, uri, now, hold):
        jwks = _fetch_and_record(client_id, uri, policy)
        return KeySet.import_key_set(jwks)
    if keys is not None:
        return keys  # an unknown kid, fetched lately: the signature check refuses it
    reason = row.last_error if row is not None and row.last_error else "not fetched yet"
    raise KeysUnavailable(f"the keys at the client's jwks_uri are not available ({reason})")


# ---------------------------------------------------------------- in `idp worker`


def refresh_stale() -> int:
    """Fetch the keys of every active private_key_jwt client with a jwks_uri whose keys are
    missing or CLIENT_JWKS_REFRESH_SECONDS old (when it is anyone's turn); how many were
    fetched. Runs in `idp worker` every REFRESH_CHECK_SECONDS."""
    policy = Policy.from_config(current_app.config)
    hold = timedelta(seconds=policy.retry_seconds)
    done = 0
    candidates = clients_store.jwks_clients()
    rollback()  # no transaction held open while fetching
    for client_id, metadata, stored_uri, fetched_at in candidates:
        uri = metadata.get("jwks_uri")
        if not uri or metadata.get("token_endpoint_auth_method") != "private_key_jwt":
            continue
        now = utcnow()
        fresh = stored_uri == uri and fetched_at is not None and now - fetched_at < policy.refresh
        if fresh or not clients_store.claim_jwks_fetch(client_id, uri, now, hold):
            continue
        try:
            _fetch_and_record(client_id, uri, policy)
        except KeysUnavailable:
            continue
        except Exception:  # one client's keys never stop the refresh of the others
            log.exception("refreshing the keys of %s failed", client_id)
            rollback()
            continue
        done += 1
    return done


def state_of(client_id: str) -> Any:
    """The stored row of a client's keys (fetched_at, failures, last_error), or None."""
    return clients_store.find_client_jwks(client_id)
