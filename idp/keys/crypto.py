"""Encryption of private keys at rest: AES-256-GCM under a key derived from settings."""

from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"


class KeyDecryptionError(Exception):
    """The stored private key cannot be decrypted with the configured key."""


@lru_cache(maxsize=4)
def _aead(secret: str) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"idp-signing-keys", info=b"private-key-at-rest"
    ).derive(secret.encode())
    return AESGCM(key)


def encrypt(secret: str, plaintext: bytes, associated: bytes) -> str:
    nonce = os.urandom(12)
    sealed = _aead(secret).encrypt(nonce, plaintext, associated)
    return VERSION + ":" + base64.b64encode(nonce + sealed).decode()


def decrypt(secret: str, token: str, associated: bytes) -> bytes:
    version, _, body = token.partition(":")
    if version != VERSION:
        raise KeyDecryptionError(f"unknown key encryption version {version!r}")
    raw = base64.b64decode(body)
    try:
        return _aead(secret).decrypt(raw[:12], raw[12:], associated)
    except InvalidTag as exc:
        raise KeyDecryptionError(
            "cannot decrypt a signing key: IDP_KEY_ENCRYPTION_KEY changed "
            "(re-encrypt the stored keys with `idp keys reencrypt`)"
        ) from exc
