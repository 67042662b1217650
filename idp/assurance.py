"""Levels of assurance: which `acr` a set of authentication methods reaches, and the `amr`
values (RFC 8176) that say what was done.

A session records each method performed in it with its time (`SsoSession.auth_times`,
method -> epoch seconds); its `acr` and `amr` are computed from those methods only, so an ID
token never claims a level or a method that was not performed in the session.

- urn:hg:loa:1: a password (`pwd`).
- urn:hg:loa:2: a password and a second factor (`pwd` + `otp`; `mfa` is added).
- urn:hg:loa:3: phishing-resistant: a passkey bound to this origin (`hwk` or `swk`) with
  user verification (`user`: the authenticator checked the person's PIN or biometrics),
  alone or after the password. A passkey used without user verification after a password
  is a second factor (urn:hg:loa:2): the key was present, nobody checked who held it.

`mfa` (RFC 8176: multiple-factor authentication) is added whenever two kinds of factor were
used: a password and a second factor, or a passkey with user verification (something held,
the key, unlocked by something known or something one is, checked by the authenticator).
So every level above urn:hg:loa:1 carries `mfa`, and a relying party checking for `mfa`
accepts a passkey sign-in.

A sign-in at an upstream provider (idp.upstreams, docs/upstreams.md) is recorded as the
method `upstream:N`, N being the rank of our level that the upstream's settings map its
`acr`/`loAs` to: it reaches that level, never more, and counts as the first factor (a
second factor of ours after `upstream:1` reaches urn:hg:loa:2, a step-up). Its `amr` value
is `fed` (federated; not in RFC 8176's registry), with `mfa` from urn:hg:loa:2 up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

ACR_PASSWORD = "urn:hg:loa:1"
ACR_MFA = "urn:hg:loa:2"
ACR_PHISHING_RESISTANT = "urn:hg:loa:3"
# Weakest first; idp.profile.ACR_RANK is this table.
ACR_RANK = {ACR_PASSWORD: 1, ACR_MFA: 2, ACR_PHISHING_RESISTANT: 3}

# RFC 8176 section 2.
AMR_PASSWORD = "pwd"
AMR_OTP = "otp"
AMR_HARDWARE_KEY = "hwk"
AMR_SOFTWARE_KEY = "swk"
AMR_MULTI_FACTOR = "mfa"
AMR_USER_PRESENCE = "user"
# Methods that are a second factor after a password.
SECOND_FACTORS = (AMR_OTP, AMR_HARDWARE_KEY, AMR_SOFTWARE_KEY)
PROOF_OF_POSSESSION_KEYS = (AMR_HARDWARE_KEY, AMR_SOFTWARE_KEY)
AMR_FEDERATED = "fed"
FEDERATED_PREFIX = "upstream:"
_LEVEL_BY_RANK = {r: a for a, r in ACR_RANK.items()}


def federated_method(acr: str) -> str:
    """The method recording a sign-in at an upstream mapped to our level `acr`."""
    return f"{FEDERATED_PREFIX}{ACR_RANK[acr]}"


def federated_rank(methods: Iterable[str]) -> int:
    """The highest of our levels an upstream sign-in among `methods` reached (0: none)."""
    ranks = [
        int(m[len(FEDERATED_PREFIX) :])
        for m in methods
        if m.startswith(FEDERATED_PREFIX) and m[len(FEDERATED_PREFIX) :].isdigit()
    ]
    return min(max(ranks, default=0), max(ACR_RANK.values()))


def first_factor_methods(methods: Iterable[str]) -> list[str]:
    """The methods that count as a session's first factor (max_age of the password level):
    the password, an upstream sign-in, a passkey with user verification."""
    done = list(methods)
    first = [AMR_PASSWORD, *(m for m in done if m.startswith(FEDERATED_PREFIX))]
    if AMR_USER_PRESENCE in done:
        first.extend(PROOF_OF_POSSESSION_KEYS)
    return first


def second_factor_methods(methods: Iterable[str]) -> list[str]:
    """The methods that count as a session's second factor: ours, and an upstream sign-in
    mapped to urn:hg:loa:2 or more."""
    federated = [m for m in methods if m.startswith(FEDERATED_PREFIX) and federated_rank([m]) >= 2]
    return [*SECOND_FACTORS, *federated]


def rank(acr: str | None) -> int:
    return ACR_RANK.get(acr or "", 0)


def acr_for(methods: Iterable[str]) -> str:
    """The level the methods reach together ("" when none)."""
    done = set(methods)
    federated = federated_rank(done)
    if done & set(PROOF_OF_POSSESSION_KEYS) and AMR_USER_PRESENCE in done:
        return ACR_PHISHING_RESISTANT
    if (AMR_PASSWORD in done or federated) and done & set(SECOND_FACTORS):
        return _LEVEL_BY_RANK[max(federated, ACR_RANK[ACR_MFA])]
    if federated:
        return _LEVEL_BY_RANK[federated]
    if AMR_PASSWORD in done or done & set(SECOND_FACTORS):
        return ACR_PASSWORD
    return ""


def acr_by_own_factors(methods: Iterable[str]) -> str:
    """The level the methods reach when an upstream sign-in counts as a first factor only,
    whatever level its settings map it to: the level our own factors vouch for. Accepts
    session methods (`upstream:N`) and `amr` values (`fed`; `mfa` is a summary, ignored).
    The console and the admin API ask for it (docs/admin.md): an upstream's "second
    factor" is not ours to trust with administration."""
    done = set(methods) - {AMR_MULTI_FACTOR}
    if any(m == AMR_FEDERATED or m.startswith(FEDERATED_PREFIX) for m in done):
        done = {m for m in done if m != AMR_FEDERATED and not m.startswith(FEDERATED_PREFIX)}
        done.add(federated_method(ACR_PASSWORD))
    return acr_for(done)


def amr_for(methods: Iterable[str]) -> list[str]:
    """The `amr` claim: the methods, in a stable order, with `mfa` when more than one kind
    of factor was used (RFC 8176: "multiple-factor authentication")."""
    given = [m for m in methods if m != AMR_MULTI_FACTOR]
    federated = federated_rank(given)
    done = list(
        dict.fromkeys(AMR_FEDERATED if m.startswith(FEDERATED_PREFIX) else m for m in given)
    )
    present = set(done)
    first = {AMR_PASSWORD, AMR_FEDERATED}
    kinds = sum(1 for group in (first, set(SECOND_FACTORS), {AMR_USER_PRESENCE}) if present & group)
    if kinds > 1 or federated >= ACR_RANK[ACR_MFA]:
        done.append(AMR_MULTI_FACTOR)
    return done


def method_time(
    auth_times: Mapping[str, int] | None, methods: Iterable[str], default: datetime
) -> datetime:
    """When the most recent of these methods was performed in a session; `default` (the
    session's auth_time) for a session that recorded no times."""
    times = [auth_times[m] for m in methods if isinstance((auth_times or {}).get(m), int)]
    if not times:
        return default if auth_times is None else datetime.fromtimestamp(0, UTC)
    return datetime.fromtimestamp(max(times), UTC)
