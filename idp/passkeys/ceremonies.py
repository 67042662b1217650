"""Where a browser's ceremony waits between its two steps: the signed page session.

The options step keeps the ceremony (its challenge, kind, person and deadline) in Flask's
signed session cookie, one per kind; the second step takes it out, so a browser answers a
challenge at most once, and the challenge table (idp.passkeys.store.note_challenge) refuses
a signed answer replayed with an older copy of the cookie. Nothing is written to the
database until a ceremony is verified, so anonymous option requests cost no rows.

The second-factor step (idp/interaction) uses `begin_authentication(user)` and
`finish_authentication(credential, user=user)` (the ceremony kind FACTOR), and, for a
person enrolling a first second factor while signing in, `begin_registration(user)` and
`finish_registration(...)`.
"""

from __future__ import annotations

from typing import Any

from flask import session

from idp import audit
from idp.directory.models import User
from idp.passkeys import service
from idp.passkeys.service import Authentication, Ceremony, Options

SESSION_KEY = "passkey_ceremonies"


def keep(ceremony: Ceremony) -> None:
    kept = session.get(SESSION_KEY)
    kept = dict(kept) if isinstance(kept, dict) else {}
    kept[ceremony.kind] = ceremony.to_state()
    session[SESSION_KEY] = kept


def take(kind: str) -> Ceremony | None:
    """The ceremony of `kind` this browser started, removed from its session."""
    kept = session.get(SESSION_KEY)
    if not isinstance(kept, dict) or kind not in kept:
        return None
    kept = dict(kept)
    state = kept.pop(kind)
    session[SESSION_KEY] = kept
    return Ceremony.from_state(state)


def begin_registration(user: User) -> dict[str, Any]:
    options = service.registration_options(user)
    keep(options.ceremony)
    return options.public_key


def finish_registration(user: User, credential: Any, name: str | None, default_name: str):
    return service.register(
        user,
        take(service.REGISTER),
        credential,
        name=name,
        default_name=default_name,
        origin=audit.request_origin(),
    )


def begin_authentication(
    user: User | None, *, require_user_verification: bool = False
) -> dict[str, Any]:
    """Options for navigator.credentials.get(): for `user` (second factor) or anyone."""
    options: Options = service.authentication_options(
        user, require_user_verification=require_user_verification
    )
    keep(options.ceremony)
    return options.public_key


def finish_authentication(credential: Any, *, user: User | None = None) -> Authentication:
    """Verify the answer; with `user`, it must be that person's passkey (second factor)."""
    kind = service.SIGN_IN if user is None else service.FACTOR
    ceremony = take(kind)
    if user is not None and ceremony is not None and ceremony.user_id != user.id:
        raise service.PasskeyError("expired")
    return service.authenticate(ceremony, credential, origin=audit.request_origin())
