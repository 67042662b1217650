"""Passkeys (WebAuthn): adding one, using one, naming and removing them.

The ceremonies, each in two steps: `registration_options` / `register` (a signed-in person
adds a passkey) and `authentication_options` / `authenticate`, either for a known person (the
second-factor step: `allowCredentials` lists their passkeys) or for nobody yet (signing in
with a passkey alone: a discoverable credential names its owner). The options step returns
a `Ceremony` the caller keeps for the second step (idp.passkeys.ceremonies keeps it in the
browser's signed page session); the second step refuses a ceremony of another kind, an
expired one, or one whose challenge was answered before (`passkey_used_challenges`), so a
challenge is good for one verified answer within PASSKEY_CEREMONY_SECONDS.

The relying party id is the issuer's host name and the expected origin the issuer's
origin; the browser's answer must name both (clientDataJSON's origin, the authenticator's
rpIdHash). The structures are checked by the `webauthn` library (py_webauthn); what it
does not decide is here: who owns a credential, the sign counter, replays, names.

amr values (RFC 8176) of a verified use, see `amr_for`:
- `hwk` when the credential is not backup eligible (BE flag clear: the key cannot leave the
  authenticator, a security key or a device-bound platform key), `swk` when it is (a synced
  passkey: the key is copied through the platform's cloud, so it is no longer bound to one
  piece of hardware). Attestation is not requested ("none": no personal data about the
  authenticator model is asked for), so the flag is the authenticator's own statement.
- `user` when the authenticator verified the person (UV flag: PIN or biometrics).

Services never commit: the caller (a view) does.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    bytes_to_base64url,
    parse_attestation_object,
    parse_authentication_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from idp import audit
from idp.directory.models import User
from idp.extensions import utcnow
from idp.jsontext import loads
from idp.pages import has_control_characters
from idp.passkeys import store
from idp.passkeys.models import CREDENTIAL_ID_MAX_LENGTH, NAME_MAX_LENGTH, Passkey

log = logging.getLogger(__name__)

# Kinds of ceremony: each has its own challenge, so two tabs do not answer each other's.
REGISTER = "register"
SIGN_IN = "sign_in"
FACTOR = "factor"
KINDS = (REGISTER, SIGN_IN, FACTOR)

AMR_HARDWARE_KEY = "hwk"
AMR_SOFTWARE_KEY = "swk"
AMR_USER = "user"

CHALLENGE_BYTES = 32
TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)
# The answer a browser posts is small; anything bigger is not one.
CREDENTIAL_MAX_BYTES = 64 * 1024
CREDENTIAL_MAX_DEPTH = 6


class PasskeyError(Exception):
    """A ceremony or a change was refused; `reason` is a short code (see REASONS in
    idp.passkeys.pages for the words people read)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RelyingParty:
    id: str
    name: str
    origin: str


@dataclass(frozen=True)
class Ceremony:
    """What the second step of a ceremony needs from the first: kept by the caller."""

    kind: str
    challenge: bytes
    expires_at: datetime
    # The person the ceremony is for (adding a passkey, second factor); None: anyone.
    user_id: int | None
    require_user_verification: bool

    def to_state(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "challenge": bytes_to_base64url(self.challenge),
            "expires_at": self.expires_at.timestamp(),
            "user_id": self.user_id,
            "uv": self.require_user_verification,
        }

    @classmethod
    def from_state(cls, state: Any) -> Ceremony | None:
        """The ceremony kept by to_state, or None for anything else."""
        try:
            kind, user_id = state["kind"], state["user_id"]
            challenge = _from_base64url(state["challenge"])
            expires_at = datetime.fromtimestamp(float(state["expires_at"]), tz=utcnow().tzinfo)
            uv = state["uv"]
        except (TypeError, KeyError, ValueError, OverflowError):
            return None
        if kind not in KINDS or not isinstance(uv, bool) or challenge is None:
            return None
        if user_id is not None and (isinstance(user_id, bool) or not isinstance(user_id, int)):
            return None
        return cls(kind, challenge, expires_at, user_id, uv)


@dataclass(frozen=True)
class Options:
    """The options for navigator.credentials.create()/get() (WebAuthn's JSON form, binary
    values in base64url) and the ceremony to keep for the second step."""

    public_key: dict[str, Any]
    ceremony: Ceremony


@dataclass(frozen=True)
class Authentication:
    """A verified use of a passkey: whose, which, and the amr values it earns."""

    user: User
    passkey: Passkey
    amr: list[str]
    user_verified: bool


# ---------------------------------------------------------------- the relying party


def relying_party() -> RelyingParty | None:
    """The relying party this provider is: its id is the issuer's host name, its origin
    the issuer's. None when the issuer is on an IP address (browsers refuse those)."""
    issuer = urlsplit(current_app.config["ISSUER"])
    host = issuer.hostname
    if not host or _is_ip_address(host):
        return None
    port = f":{issuer.port}" if issuer.port else ""
    origin = f"{issuer.scheme}://{host}{port}"
    return RelyingParty(host, current_app.config["PASSKEY_RP_NAME"], origin)


def available() -> bool:
    return relying_party() is not None


def sign_in_available() -> bool:
    """May people sign in with a passkey alone here?"""
    return bool(current_app.config["PASSKEY_SIGN_IN"]) and available()


def _rp() -> RelyingParty:
    rp = relying_party()
    if rp is None:
        raise PasskeyError("unavailable")
    return rp


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _user_verification_setting() -> bool:
    return current_app.config["PASSKEY_USER_VERIFICATION"] == "required"


def _new_ceremony(kind: str, user_id: int | None, uv: bool, now: datetime) -> Ceremony:
    seconds = current_app.config["PASSKEY_CEREMONY_SECONDS"]
    return Ceremony(
        kind, secrets.token_bytes(CHALLENGE_BYTES), now + timedelta(seconds=seconds), user_id, uv
    )


def _uv_requirement(required: bool) -> UserVerificationRequirement:
    return (
        UserVerificationRequirement.REQUIRED if required else UserVerificationRequirement.PREFERRED
    )


def _descriptors(passkeys: list[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=_from_base64url(p.credential_id) or b"",
            transports=[AuthenticatorTransport(t) for t in p.transports if t in TRANSPORTS],
        )
        for p in passkeys
    ]


def _public_key_json(options: Any) -> dict[str, Any]:
    return json.loads(options_to_json(options))


# ---------------------------------------------------------------- adding a passkey


def registration_options(user: User, *, now: datetime | None = None) -> Options:
    """Options to add a passkey for `user`: their existing passkeys are excluded (one
    authenticator, one passkey), a discoverable credential is preferred (so it can sign in
    alone), user verification as PASSKEY_USER_VERIFICATION says."""
    rp = _rp()
    now = now or utcnow()
    if store.count_of(user.id) >= current_app.config["PASSKEY_MAX_PER_USER"]:
        raise PasskeyError("too_many")
    required = _user_verification_setting()
    ceremony = _new_ceremony(REGISTER, user.id, required, now)
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        # The WebAuthn user handle: the opaque `sub`, never an address or a name.
        user_id=user.sub.encode(),
        user_name=user.email or user.sub,
        user_display_name=user.name or user.email or user.sub,
        challenge=ceremony.challenge,
        timeout=current_app.config["PASSKEY_CEREMONY_SECONDS"] * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=_uv_requirement(required),
        ),
        exclude_credentials=_descriptors(store.passkeys_of(user.id)),
    )
    return Options(_public_key_json(options), ceremony)


def register(
    user: User,
    ceremony: Ceremony | None,
    credential: Any,
    *,
    name: str | None = None,
    default_name: str = "",
    now: datetime | None = None,
    origin: dict[str, str | None] | None = None,
) -> Passkey:
    """Check the browser's answer to `registration_options` and store the passkey."""
    rp = _rp()
    now = now or utcnow()
    _check_ceremony(ceremony, REGISTER, now, user.id)
    assert ceremony is not None
    clean = clean_name(name) if name else clean_name((default_name or "Passkey")[:NAME_MAX_LENGTH])
    if store.count_of(user.id) >= current_app.config["PASSKEY_MAX_PER_USER"]:
        raise PasskeyError("too_many")
    document = _credential_document(credential)
    try:
        verified = verify_registration_response(
            credential=document,
            expected_challenge=ceremony.challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=ceremony.require_user_verification,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        log.info("passkey registration refused: %s", exc)
        raise PasskeyError("invalid") from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if len(credential_id) > CREDENTIAL_ID_MAX_LENGTH:
        raise PasskeyError("invalid")
    if store.find_by_credential_id(credential_id) is not None:
        # Someone's (perhaps this person's) already: never moved, never duplicated.
        raise PasskeyError("already_registered")
    if not store.note_challenge(ceremony.challenge, ceremony.expires_at):
        raise PasskeyError("replayed")
    flags = _backup_flags(verified.attestation_object)
    passkey = Passkey(
        user_id=user.id,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=_transports(document),
        name=clean,
        aaguid=str(verified.aaguid or "")[:36],
        backup_eligible=flags[0],
        backup_state=flags[1],
        created_at=now,
    )
    store.add(passkey)
    audit.record(
        "passkey_added",
        actor=user.sub,
        subject=user.sub,
        detail={"passkey_id": passkey.id, "name": clean, "backup_eligible": flags[0]},
        **(origin or {}),
    )
    return passkey


def _backup_flags(attestation_object: bytes) -> tuple[bool, bool]:
    """(backup eligible, backed up) from the authenticator data of an attestation object."""
    flags = parse_attestation_object(attestation_object).auth_data.flags
    return bool(flags.be), bool(flags.bs)


def _transports(document: dict[str, Any]) -> list[str]:
    response = document.get("response")
    values = response.get("transports") if isinstance(response, dict) else None
    if not isinstance(values, list):
        return []
    return sorted({v for v in values if isinstance(v, str) and v in TRANSPORTS})


# ---------------------------------------------------------------- using a passkey


def authentication_options(
    user: User | None,
    *,
    now: datetime | None = None,
    require_user_verification: bool = False,
) -> Options:
    """Options to use a passkey: for `user` (the second factor: their passkeys are listed,
    user verification as PASSKEY_USER_VERIFICATION says, or required when the level asked
    for is the phishing-resistant one, which needs it), or for nobody yet (a passkey
    alone: no credential listed, so nothing tells whose account this is; user verification
    required, since the passkey is the only factor)."""
    rp = _rp()
    now = now or utcnow()
    if user is None:
        ceremony = _new_ceremony(SIGN_IN, None, True, now)
        allowed: list[PublicKeyCredentialDescriptor] = []
    else:
        passkeys = store.passkeys_of(user.id)
        if not passkeys:
            raise PasskeyError("no_passkeys")
        uv = require_user_verification or _user_verification_setting()
        ceremony = _new_ceremony(FACTOR, user.id, uv, now)
        allowed = _descriptors(passkeys)
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=ceremony.challenge,
        timeout=current_app.config["PASSKEY_CEREMONY_SECONDS"] * 1000,
        allow_credentials=allowed,
        user_verification=_uv_requirement(ceremony.require_user_verification),
    )
    return Options(_public_key_json(options), ceremony)


def authenticate(
    ceremony: Ceremony | None,
    credential: Any,
    *,
    now: datetime | None = None,
    origin: dict[str, str | None] | None = None,
) -> Authentication:
    """Check the browser's answer to `authentication_options`: the credential is known,
    belongs to the ceremony's person (when it names one) and to an active account, the
    signature, origin, rpId and challenge are right, the signature counter went forward,
    and the challenge was not answered before. The caller records the sign-in."""
    rp = _rp()
    now = now or utcnow()
    if ceremony is None or ceremony.kind not in (SIGN_IN, FACTOR):
        raise PasskeyError("expired")
    _check_ceremony(ceremony, ceremony.kind, now, ceremony.user_id)
    document = _credential_document(credential)
    try:
        parsed = parse_authentication_credential_json(document)
    except (WebAuthnException, ValueError, TypeError, KeyError):
        raise PasskeyError("invalid") from None
    passkey = _owned_passkey(ceremony, parsed)
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=ceremony.challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=passkey.public_key,
            # The counter is checked below, once the signature is known to be good.
            credential_current_sign_count=0,
            require_user_verification=ceremony.require_user_verification,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        log.info("passkey authentication refused: %s", exc)
        raise PasskeyError("invalid") from None
    # A replay first (the same answer again also shows an unchanged counter), then a clone.
    if not store.note_challenge(ceremony.challenge, ceremony.expires_at):
        raise PasskeyError("replayed")
    _check_sign_count(passkey, verified.new_sign_count, origin)
    passkey.sign_count = verified.new_sign_count
    passkey.backup_state = bool(verified.credential_backed_up)
    passkey.last_used_at = now
    return Authentication(
        passkey.user, passkey, amr_for(passkey, verified.user_verified), verified.user_verified
    )


def _owned_passkey(ceremony: Ceremony, parsed: Any) -> Passkey:
    credential_id = bytes_to_base64url(parsed.raw_id)
    passkey = (
        store.find_by_credential_id(credential_id)
        if len(credential_id) <= CREDENTIAL_ID_MAX_LENGTH
        else None
    )
    if passkey is None:
        raise PasskeyError("unknown_credential")
    if ceremony.user_id is not None and passkey.user_id != ceremony.user_id:
        # Someone else's passkey offered as this person's second factor.
        raise PasskeyError("unknown_credential")
    handle = parsed.response.user_handle
    if handle is not None and handle != passkey.user.sub.encode():
        raise PasskeyError("unknown_credential")
    if not passkey.user.is_active:
        raise PasskeyError("disabled")
    return passkey


def _check_sign_count(passkey: Passkey, new: int, origin: dict[str, str | None] | None) -> None:
    """A counter that did not go forward means two copies of the key exist (a cloned
    authenticator): refused, and audited since the signature itself was good. Authenticators
    that keep no counter (always 0, as synced passkeys do) are not checked."""
    if (new > 0 or passkey.sign_count > 0) and new <= passkey.sign_count:
        audit.record(
            "passkey_sign_count",
            actor=passkey.user.sub,
            subject=passkey.user.sub,
            outcome="failure",
            detail={"passkey_id": passkey.id, "stored": passkey.sign_count, "received": new},
            **(origin or {}),
        )
        raise PasskeyError("cloned")


def amr_for(passkey: Passkey, user_verified: bool) -> list[str]:
    """RFC 8176 values for a use of `passkey` (see the module's docstring)."""
    amr = [AMR_SOFTWARE_KEY if passkey.backup_eligible else AMR_HARDWARE_KEY]
    if user_verified:
        amr.append(AMR_USER)
    return amr


def _check_ceremony(ceremony: Ceremony | None, kind: str, now: datetime, user_id: Any) -> None:
    if ceremony is None or ceremony.kind != kind or ceremony.expires_at <= now:
        raise PasskeyError("expired")
    if ceremony.user_id != user_id:
        raise PasskeyError("expired")


def _credential_document(credential: Any) -> dict[str, Any]:
    """The browser's answer as a JSON object, or PasskeyError("invalid")."""
    if isinstance(credential, str | bytes):
        try:
            credential = loads(
                credential, max_length=CREDENTIAL_MAX_BYTES, max_depth=CREDENTIAL_MAX_DEPTH
            )
        except ValueError:
            raise PasskeyError("invalid") from None
    if not isinstance(credential, dict):
        raise PasskeyError("invalid")
    return credential


def _from_base64url(value: Any) -> bytes | None:
    if not isinstance(value, str) or not value.isascii():
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return None


# ---------------------------------------------------------------- names, list, removal


def clean_name(raw: str | None) -> str:
    """A passkey's name as stored: trimmed, 1 to NAME_MAX_LENGTH printable characters."""
    name = " ".join((raw or "").split())
    if not name or len(name) > NAME_MAX_LENGTH or has_control_characters(name):
        raise PasskeyError("bad_name")
    return name


def passkeys_of(user: User) -> list[Passkey]:
    return store.passkeys_of(user.id)


def passkey_of(user: User, passkey_id: int) -> Passkey | None:
    """One of `user`'s passkeys by id; None for a missing one and for someone else's."""
    return store.find_of_user(user.id, passkey_id)


def has_passkeys(user: User) -> bool:
    return store.count_of(user.id) > 0


def rename(
    user: User, passkey_id: int, name: str, *, origin: dict[str, str | None] | None = None
) -> Passkey:
    passkey = store.find_of_user(user.id, passkey_id)
    if passkey is None:
        raise PasskeyError("not_found")
    passkey.name = clean_name(name)
    audit.record(
        "passkey_renamed",
        actor=user.sub,
        subject=user.sub,
        detail={"passkey_id": passkey.id, "name": passkey.name},
        **(origin or {}),
    )
    return passkey


def remove(
    user: User,
    passkey_id: int,
    *,
    origin: dict[str, str | None] | None = None,
    actor: str | None = None,
) -> None:
    """Remove one of `user`'s passkeys; someone else's is "not_found", like a missing one.
    `actor`: an administrator resetting the person's factors (else the person)."""
    passkey = store.find_of_user(user.id, passkey_id)
    if passkey is None:
        raise PasskeyError("not_found")
    detail = {"passkey_id": passkey.id, "name": passkey.name}
    store.delete(passkey)
    audit.record(
        "passkey_removed",
        actor=actor or user.sub,
        subject=user.sub,
        detail=detail,
        **(origin or {}),
    )


def remove_expired_challenges(now: datetime | None = None) -> int:
    return store.remove_expired_challenges(now or utcnow())
