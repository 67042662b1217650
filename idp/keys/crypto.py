"""Encryption of private keys at rest: AES-256-GCM under a key derived from settings
(the shared primitive is idp.sealing; this module keeps the signing keys' own derivation)."""

from __future__ import annotations

from idp import sealing

VERSION = sealing.VERSION
SALT = b"idp-signing-keys"
INFO = b"private-key-at-rest"


class KeyDecryptionError(Exception):
    """The stored private key cannot be decrypted with the configured key."""


def encrypt(secret: str, plaintext: bytes, associated: bytes) -> str:
    return sealing.seal(secret, plaintext, associated, salt=SALT, info=INFO)


def decrypt(secret: str, token: str, associated: bytes) -> bytes:
    try:
        return sealing.unseal(secret, token, associated, salt=SALT, info=INFO)
    except sealing.UnsealError as exc:
        version = token.partition(":")[0]
        if version != VERSION:
            raise KeyDecryptionError(f"unknown key encryption version {version!r}") from exc
        raise KeyDecryptionError(
            "cannot decrypt a signing key: IDP_KEY_ENCRYPTION_KEY changed "
            "(re-encrypt the stored keys with `idp keys reencrypt`)"
        ) from exc
