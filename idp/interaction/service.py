"""Sign-in: check a password, throttle guessing, record the attempt.

Throttling (idp.interaction.throttle) counts failures per account, whatever address of it
was typed, and per client address; a browser that signed in to the account before counts
its own failures instead (idp.interaction.device). An attempt held back is refused before
any password is checked and is counted, not logged row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from idp import audit
from idp.directory.models import User
from idp.directory.passwords import hash_password, needs_rehash, verify_password
from idp.directory.store import find_user_by_address
from idp.extensions import db, utcnow
from idp.interaction import throttle
from idp.interaction.device import issue_device, read_device
from idp.pages import has_control_characters

AMR_PASSWORD = "pwd"
ACR_PASSWORD = "urn:hg:loa:1"
IDENTIFIER_MAX_LENGTH = 320


@dataclass
class SignInResult:
    user: User | None
    # Seconds the caller must wait before trying again (throttling), 0 when not throttled.
    retry_after: int = 0
    # After a success: the browser's new device cookie (idp.interaction.device).
    device_cookie: str | None = None


def clean_identifier(identifier: str) -> str:
    """The identifier as stored in throttle keys and the audit log: trimmed, bounded, printable."""
    text = identifier.strip()[:IDENTIFIER_MAX_LENGTH]
    if has_control_characters(text):
        # PostgreSQL text cannot hold NUL; no address contains control characters anyway.
        text = "".join(c if c.isprintable() else "?" for c in text)
    return text


def sign_in(
    identifier: str,
    password: str,
    *,
    ip: str | None,
    user_agent: str | None = None,
    device_cookie: str | None = None,
    now: datetime | None = None,
) -> SignInResult:
    """Check an address and password. Always costs one argon2 verification when not throttled.

    A wrong password and an unknown or disabled account give the same answer, and take the
    same steps (one lookup, the same throttle rows, one verification), so neither the answer
    nor its time tells whether an address exists. The caller commits on success (it also
    starts the session); failures and refusals are committed here.
    """
    now = now or utcnow()
    cleaned = clean_identifier(identifier)
    user = find_user_by_address(cleaned) if cleaned == identifier.strip() else None
    subject = user.sub if user else cleaned
    device = read_device(device_cookie)
    entry = device.entry_for(user.sub) if device is not None and user is not None else None
    if entry is not None:
        keys = [throttle.device_key(entry)]
    else:
        keys = [throttle.account_key(user.sub if user else None, cleaned)]
        if ip:
            keys.append(throttle.address_key(ip))

    wait, counted = throttle.reserve(keys, now)
    if wait:
        first_refusals = throttle.refuse(keys, now)
        if first_refusals:
            # Once per delay and key; the other refusals are counted in the throttle rows.
            audit.record(
                "login",
                actor="anonymous",
                subject=subject,
                outcome="throttled",
                ip=ip,
                user_agent=user_agent,
                detail={"held_back_by": first_refusals, "retry_after": wait},
            )
        db.session.commit()
        return SignInResult(None, retry_after=wait)

    stored_hash = user.password_hash if user else None
    # The attempt is counted before its password is checked, and committed so that attempts
    # made meanwhile see it (throttle.reserve); a success gives it back below.
    db.session.commit()
    ok = verify_password(stored_hash, password)
    if user is None or not ok or not user.is_active:
        reason = "unknown_account" if user is None else ("disabled" if ok else "bad_password")
        audit.record(
            "login",
            actor="anonymous",
            subject=subject,
            outcome="failure",
            ip=ip,
            user_agent=user_agent,
            detail={"reason": reason, **counted},
        )
        db.session.commit()
        return SignInResult(None)

    if needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    # The failures of the path this sign-in took are forgotten: the account's counter from a
    # new browser, this account's entry on a trusted one (an attacker's count stays, and so
    # do the entries of other accounts on this browser: issue_device carries them over).
    throttle.clear(keys[0])
    throttle.give_back(keys[1:], now)
    audit.record(
        "login",
        actor=user.sub,
        subject=user.sub,
        ip=ip,
        user_agent=user_agent,
        detail={"amr": [AMR_PASSWORD], "trusted_device": keys[0].startswith("dev:")},
    )
    return SignInResult(user, device_cookie=issue_device(device, user.sub))
