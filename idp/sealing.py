"""Secrets kept encrypted at rest: AES-256-GCM under a key derived (HKDF-SHA256) from the
key-encryption key of the settings.

One primitive for every secret the provider must read back (not merely compare): private
signing keys (idp.keys) and TOTP secrets (idp.factors). Each use names its own `purpose`,
so a value sealed for one use cannot be opened as another; `associated` binds a value to
its row (a key id, an account), so a sealed value copied to another row does not open.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
NONCE_BYTES = 12


class UnsealError(Exception):
    """A sealed value cannot be opened with the configured key (or was altered)."""


def key_encryption_key(config: Mapping[str, Any]) -> str:
    """KEY_ENCRYPTION_KEY; in development, when it is empty, SECRET_KEY. Production never
    starts without its own (idp.settings)."""
    return config.get("KEY_ENCRYPTION_KEY") or config["SECRET_KEY"]


@lru_cache(maxsize=8)
def _aead(secret: str, salt: bytes, info: bytes) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret.encode())
    return AESGCM(key)


def seal(secret: str, plaintext: bytes, associated: bytes, *, salt: bytes, info: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = _aead(secret, salt, info).encrypt(nonce, plaintext, associated)
    return VERSION + ":" + base64.b64encode(nonce + sealed).decode()


def unseal(secret: str, token: str, associated: bytes, *, salt: bytes, info: bytes) -> bytes:
    version, _, body = token.partition(":")
    if version != VERSION:
        raise UnsealError(f"unknown encryption version {version!r}")
    try:
        raw = base64.b64decode(body, validate=True)
    except ValueError as exc:
        raise UnsealError("not an encrypted value") from exc
    try:
        return _aead(secret, salt, info).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated)
    except InvalidTag as exc:
        raise UnsealError("cannot decrypt: wrong key or altered value") from exc
