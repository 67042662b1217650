"""A software WebAuthn authenticator for tests: real attestation objects ("none" format) and
real assertions, signed with ES256 keys made by `cryptography`, in the JSON form browsers
post (binary values in base64url).

It does what an authenticator and the browser do together, and can be told to misbehave:
answer for another origin or relying party id, skip user verification, turn its counter
back (a clone), or claim a given credential id.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers.encode_cbor import encode_cbor

FLAG_UP, FLAG_UV, FLAG_BE, FLAG_BS, FLAG_AT = 0x01, 0x04, 0x08, 0x10, 0x40
AAGUID = bytes.fromhex("00112233445566778899aabbccddeeff")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    credential_id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0

    @property
    def id(self) -> str:
        return b64url(self.credential_id)


@dataclass
class Authenticator:
    """One authenticator (a phone, a security key). `counter`: whether it keeps a signature
    counter (synced passkeys keep none: always 0); `backup_eligible`: a synced passkey."""

    origin: str = "http://idp.test"
    backup_eligible: bool = False
    user_verification: bool = True
    counter: bool = True
    credentials: dict[str, Credential] = field(default_factory=dict)

    # ------------------------------------------------------------------ registration

    def create(
        self,
        public_key: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        credential_id: bytes | None = None,
    ) -> dict[str, Any]:
        """The answer to navigator.credentials.create({publicKey}) as a browser posts it."""
        rp_id = rp_id or public_key["rp"]["id"]
        cred = Credential(
            credential_id or secrets.token_bytes(32),
            ec.generate_private_key(ec.SECP256R1()),
            rp_id,
            unb64url(public_key["user"]["id"]),
        )
        self.credentials[cred.id] = cred
        client_data = self._client_data("webauthn.create", public_key["challenge"], origin)
        numbers = cred.key.public_key().public_numbers()
        cose = encode_cbor(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        attested = AAGUID + struct.pack(">H", len(cred.credential_id)) + cred.credential_id + cose
        auth_data = self._auth_data(rp_id, FLAG_AT, cred.sign_count) + attested
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": cred.id,
            "rawId": cred.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    # ------------------------------------------------------------------ assertion

    def get(
        self,
        public_key: dict[str, Any],
        *,
        credential: Credential | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        sign_count: int | None = None,
        user_handle: bool = True,
    ) -> dict[str, Any]:
        """The answer to navigator.credentials.get({publicKey}): with the credential the
        options allow (or the first for this relying party), or the one given."""
        cred = credential or self._choose(public_key)
        if sign_count is not None:
            cred.sign_count = sign_count
        elif self.counter:
            cred.sign_count += 1
        client_data = self._client_data("webauthn.get", public_key["challenge"], origin)
        auth_data = self._auth_data(rp_id or cred.rp_id, 0, cred.sign_count)
        signature = cred.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        response = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(signature),
        }
        if user_handle:
            response["userHandle"] = b64url(cred.user_handle)
        return {
            "id": cred.id,
            "rawId": cred.id,
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def only(self) -> Credential:
        (cred,) = self.credentials.values()
        return cred

    # ------------------------------------------------------------------ parts

    def _choose(self, public_key: dict[str, Any]) -> Credential:
        allowed = [c["id"] for c in public_key.get("allowCredentials") or []]
        for cred in self.credentials.values():
            if cred.rp_id == public_key["rpId"] and (not allowed or cred.id in allowed):
                return cred
        raise AssertionError("no credential of this authenticator fits the options")

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        document = {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        return json.dumps({**document, "crossOrigin": False}).encode()

    def _auth_data(self, rp_id: str, extra: int, sign_count: int) -> bytes:
        flags = FLAG_UP | extra
        if self.user_verification:
            flags |= FLAG_UV
        if self.backup_eligible:
            flags |= FLAG_BE | FLAG_BS
        rp_hash = hashlib.sha256(rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", sign_count)
