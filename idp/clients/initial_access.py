"""Initial access tokens (RFC 7591 section 3): who may register a client dynamically.

An administrator creates one with `idp registration-token create`; it is printed once and
stored as a SHA-256 hash. Each registration spends one use, atomically, in the same
transaction that stores the new client, so a failed registration costs nothing.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from idp import audit
from idp.clients import store
from idp.clients.models import InitialAccessToken
from idp.errors import NotFound, ValidationFailed
from idp.extensions import utcnow
from idp.security import hash_secret

TOKEN_BYTES = 32
DEFAULT_EXPIRES_IN_SECONDS = 86400
MAX_EXPIRES_IN_SECONDS = 366 * 86400
MAX_USES = 1_000_000
NOTE_MAX_LENGTH = 255
DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class InvalidDuration(ValidationFailed):
    pass


@dataclass(frozen=True)
class IssuedToken:
    row: InitialAccessToken
    token: str  # the plaintext, shown once


def parse_duration(text: str) -> int:
    """Seconds from "3600", "90m", "1h", "7d" or "2w"."""
    match = DURATION.match(text or "")
    if not match:
        raise InvalidDuration(f"{text!r} is not a duration (examples: 3600, 90m, 1h, 7d)")
    seconds = int(match.group(1)) * DURATION_UNITS[match.group(2)]
    if not 1 <= seconds <= MAX_EXPIRES_IN_SECONDS:
        raise InvalidDuration(
            f"the duration must be between 1 second and {MAX_EXPIRES_IN_SECONDS // 86400} days"
        )
    return seconds


def create_token(
    *,
    expires_in: int = DEFAULT_EXPIRES_IN_SECONDS,
    uses: int | None = 1,
    note: str = "",
    actor: str,
) -> IssuedToken:
    """A new token valid for `expires_in` seconds and `uses` registrations (None: unlimited)."""
    if not 1 <= expires_in <= MAX_EXPIRES_IN_SECONDS:
        raise InvalidDuration("expires_in out of range")
    if uses is not None and not 1 <= uses <= MAX_USES:
        raise ValidationFailed(f"uses must be between 1 and {MAX_USES}")
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH or not note.isprintable():
        raise ValidationFailed(
            f"the note must be printable text of at most {NOTE_MAX_LENGTH} characters"
        )
    # Tokens that can no longer register anything are removed now and then: here.
    removed = store.delete_spent_initial_access_tokens(utcnow())
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = InitialAccessToken(
        token_hash=hash_secret(token),
        expires_at=utcnow() + timedelta(seconds=expires_in),
        uses_left=uses,
        created_by=actor[:255],
        note=note,
    )
    store.add(row)
    audit.record(
        "registration_token.create",
        actor=actor,
        subject=str(row.id),
        detail={"expires_in": expires_in, "uses": uses, "note": note, "removed_spent": removed},
    )
    return IssuedToken(row, token)


def list_tokens() -> list[InitialAccessToken]:
    return store.list_initial_access_tokens()


def state(row: InitialAccessToken, now: datetime | None = None) -> str:
    now = now or utcnow()
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    if row.uses_left is not None and row.uses_left <= 0:
        return "used"
    return "valid"


def revoke_token(token_id: int, *, actor: str) -> None:
    row = store.get_initial_access_token(token_id)
    if row is None:
        raise NotFound(f"no registration token with id {token_id}")
    store.delete_initial_access_token(row)
    audit.record("registration_token.revoke", actor=actor, subject=str(token_id))


def find_valid_token(token: str | None) -> InitialAccessToken | None:
    """The token row if `token` is a valid initial access token with a use left (read only)."""
    if not token or len(token) > 512:
        return None
    row = store.find_initial_access_token(hash_secret(token))
    if row is None or state(row) != "valid":
        return None
    return row


def spend_token(token: str) -> bool:
    """Use the token once in the current transaction; False if it is no longer valid."""
    return store.consume_initial_access_token(hash_secret(token), utcnow())


def remove_spent_tokens(now: datetime | None = None) -> int:
    """Delete expired and used-up tokens, in the caller's transaction; returns how many.

    For `idp cleanup`; creating a token also does it.
    """
    return store.delete_spent_initial_access_tokens(now or utcnow())
