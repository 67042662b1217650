"""How the packages above sessions take part in ending a session, without sessions
importing them (docs/architecture.md).

Two blinker signals (blinker comes with Flask), sent with the application as sender, in
the caller's transaction:

- `session_ended`: sessions were just ended (`ended`: the store's EndedSession rows,
  `reason`, `now`, `browser_sid`, and `result`, the LogoutResult a receiver fills in).
  idp.oidc subscribes: it queues back-channel notices, builds the front-channel frames
  and revokes the sessions' grants.
- `access_withdrawn`: these accounts (`user_ids`) may no longer sign in (`reason`, `now`);
  idp.oidc revokes every grant they hold, offline ones included.

And one registered callback set, `RelyingParties`: what sessions needs to know about a
client (its name for the session list, the back-channel logout URI and the algorithm of its
logout tokens), provided by idp.oidc in its init_app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from blinker import Namespace
from flask import Flask, current_app

_signals = Namespace()
session_ended = _signals.signal("session-ended")
access_withdrawn = _signals.signal("access-withdrawn")

RELYING_PARTIES_KEY = "idp.sessions.relying_parties"


@dataclass(frozen=True)
class RelyingParties:
    # An active client by client_id (with client_id, client_name and meta(name)), else None.
    find_client: Callable[[str], Any]
    # The JWS algorithm of the client's ID tokens; its logout tokens use the same.
    token_alg: Callable[[Any], str]


# Before the protocol registers itself: no client is known.
_NONE = RelyingParties(find_client=lambda client_id: None, token_alg=lambda client: "RS256")


def provide_relying_parties(app: Flask, parties: RelyingParties) -> None:
    app.extensions[RELYING_PARTIES_KEY] = parties


def relying_parties() -> RelyingParties:
    return current_app.extensions.get(RELYING_PARTIES_KEY, _NONE)
