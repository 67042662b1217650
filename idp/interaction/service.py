"""Sign-in: check a password, throttle guessing, record the attempt.

Throttling (idp.interaction.throttle) counts failures per account, whatever address of it
was typed, and per client address; a browser that signed in to the account before counts
its own failures instead (idp.interaction.device). An attempt held back is refused before
any password is checked and is counted, not logged row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from idp import audit
from idp.assurance import ACR_PASSWORD, AMR_PASSWORD  # noqa: F401 (the sign-in's names)
from idp.directory.ldap.bind import SourceUnavailable, check_with_source, checks_with_source
from idp.directory.legacy import legacy_scheme
from idp.directory.models import User
from idp.directory.passwords import hash_password, needs_rehash, verify_password
from idp.directory.store import find_user_by_address
from idp.extensions import utcnow
from idp.interaction import throttle
from idp.interaction.device import issue_device, read_device
from idp.pages import has_control_characters

IDENTIFIER_MAX_LENGTH = 320


@dataclass
class SignInResult:
    user: User | None
    # Seconds the caller must wait before trying again (throttling), 0 when not throttled.
    retry_after: int = 0
    # After a success: the browser's new device cookie (idp.interaction.device).
    device_cookie: str | None = None
    # The LDAP server that checks this account's password could not answer: "try again
    # later", not a wrong password, and the attempt is not counted.
    source_unavailable: bool = False


@dataclass
class Attempt:
    """A sign-in attempt counted by begin_sign_in, to be checked by finish_sign_in."""

    user: User | None
    subject: str
    keys: list[str]
    counted: dict[str, Any]
    device: Any
    ip: str | None
    user_agent: str | None
    now: datetime
    # Read before the caller's commit, so that checking it costs no query, known account or not.
    stored_hash: str | None
    # Seconds to wait when the attempt was held back (nothing more to do), else 0.
    retry_after: int = 0


def clean_identifier(identifier: str) -> str:
    """The identifier as stored in throttle keys and the audit log: trimmed, bounded, printable."""
    text = identifier.strip()[:IDENTIFIER_MAX_LENGTH]
    if has_control_characters(text):
        # PostgreSQL text cannot hold NUL; no address contains control characters anyway.
        text = "".join(c if c.isprintable() else "?" for c in text)
    return text


def begin_sign_in(
    identifier: str,
    *,
    ip: str | None,
    user_agent: str | None = None,
    device_cookie: str | None = None,
    now: datetime | None = None,
) -> Attempt:
    """Find the account and count the attempt against its throttle keys, before any password
    is checked. The caller commits at once, so that attempts made meanwhile see this one
    (throttle.reserve), then calls finish_sign_in unless `retry_after` says to wait.

    A wrong password and an unknown or disabled account take the same steps here and in
    finish_sign_in (one lookup, the same throttle rows, one verification), so neither the
    answer nor its time tells whether an address exists.
    """
    now = now or utcnow()
    cleaned = clean_identifier(identifier)
    user = find_user_by_address(cleaned) if cleaned == identifier.strip() else None
    subject = user.sub if user else cleaned
    device = read_device(device_cookie)
    entry = device.entry_for(user.sub) if device is not None and user is not None else None
    if entry is not None:
        keys = [throttle.device_key(user.sub, entry)]
    else:
        keys = [throttle.account_key(user.sub if user else None, cleaned)]
        if ip:
            keys.append(throttle.address_key(ip))
    wait, counted = throttle.reserve(keys, now)
    stored_hash = user.password_hash if user else None
    attempt = Attempt(user, subject, keys, counted, device, ip, user_agent, now, stored_hash, wait)
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
    return attempt


def record_locks(attempt: Attempt, locks: dict[str, int]) -> None:
    """One audit event `login.lock` per counter this failure holds back: the account (or
    the typed address that is no account: the same event, so the log does not tell them
    apart either), the client address, or the account's entry on a trusted browser."""
    for key, seconds in sorted(locks.items()):
        kind = throttle.kind_of(key)
        audit.record(
            "login.lock",
            actor="anonymous",
            subject=attempt.ip if kind == "address" else attempt.subject,
            outcome="locked",
            ip=attempt.ip,
            user_agent=attempt.user_agent,
            detail={
                "counter": kind,
                "failures": attempt.counted.get("failures", {}).get(kind),
                "delay_seconds": seconds,
            },
        )


def unlock_account(user: User, actor: str, now: datetime | None = None) -> dict[str, int]:
    """An operator ends the account's delays (`idp users unlock`): its own counters are
    forgotten, on every browser; those of client addresses are not (they hold back guessing
    at every account). Recorded as the audit event `login.unlock`; the caller commits."""
    cleared = throttle.unlock(user.sub, now or utcnow())
    audit.record("login.unlock", actor=actor, subject=user.sub, detail=cleared)
    return cleared


def check_password_with_source(user: User, stored_hash: str | None, password: str) -> bool:
    """Bind pass-through (idp.directory.ldap.bind): LDAP's answer decides; on success the
    password is kept as argon2id, so that the account can later be checked locally."""
    if not check_with_source(user, password):
        return False
    if user.is_active and not (stored_hash and verify_password(stored_hash, password)):
        user.password_hash = hash_password(password)
    return True


def source_unavailable(attempt: Attempt, reason: str) -> SignInResult:
    """The LDAP server could not check the password: the attempt is given back (no delay,
    no lock-out grows from an outage) and recorded as such."""
    throttle.give_back(attempt.keys, attempt.now)
    audit.record(
        "login",
        actor="anonymous",
        subject=attempt.subject,
        outcome="unavailable",
        ip=attempt.ip,
        user_agent=attempt.user_agent,
        detail={"reason": "password_source_unavailable", "error": reason[:200]},
    )
    return SignInResult(None, source_unavailable=True)


def finish_sign_in(attempt: Attempt, password: str) -> SignInResult:
    """Check the password of an attempt counted by begin_sign_in (one argon2 verification,
    whatever the account). The caller commits: a failure's audit row, or on success the
    session it starts."""
    user, now = attempt.user, attempt.now
    if user is not None and checks_with_source(user, attempt.stored_hash):
        try:
            ok = check_password_with_source(user, attempt.stored_hash, password)
        except SourceUnavailable as exc:
            return source_unavailable(attempt, str(exc))
    else:
        ok = verify_password(attempt.stored_hash, password)
    if user is None or not ok or not user.is_active:
        reason = "unknown_account" if user is None else ("disabled" if ok else "bad_password")
        counted = dict(attempt.counted)
        locks = counted.pop("locks", {})
        audit.record(
            "login",
            actor="anonymous",
            subject=attempt.subject,
            outcome="failure",
            ip=attempt.ip,
            user_agent=attempt.user_agent,
            detail={"reason": reason, **counted},
        )
        record_locks(attempt, locks)
        return SignInResult(None)

    # A legacy hash imported from the mail system (idp.directory.legacy) is replaced here,
    # in the sign-in's own transaction: it is never kept past its owner's first sign-in.
    replaced = legacy_scheme(user.password_hash)
    if needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    # The failures of the path this sign-in took are forgotten: the account's counter from a
    # new browser, this account's entry on a trusted one (an attacker's count stays, and so
    # do the entries of other accounts on this browser: issue_device carries them over).
    keys = attempt.keys
    throttle.clear(keys[0])
    throttle.give_back(keys[1:], now)
    audit.record(
        "login",
        actor=user.sub,
        subject=user.sub,
        ip=attempt.ip,
        user_agent=attempt.user_agent,
        detail={
            "amr": [AMR_PASSWORD],
            "trusted_device": keys[0].startswith("dev:"),
            **({"legacy_hash_replaced": replaced} if replaced else {}),
        },
    )
    return SignInResult(user, device_cookie=issue_device(attempt.device, user.sub))
