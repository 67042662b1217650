"""JWK sets from outside: a client's `jwks` metadata and the document at its `jwks_uri`.

Both are written by whoever registered the client, so both are read by one function with
one set of rules (RFC 7517 5, RFC 7591 2): a JSON object whose `keys` is a list of public
RSA or EC keys that joserfc can import, RSA keys of at least MIN_RSA_BITS bits. Anything
else, however it fails inside the key import (KeyError for an unknown curve, ValueError
for a point off the curve, RecursionError for deep nesting), is InvalidJwks with a short
reason: invalid_client_metadata at registration, a recorded fetch failure for a jwks_uri.
"""

from __future__ import annotations

import warnings
from typing import Any

from joserfc.jwk import KeySet

from idp import jsontext

MAX_KEYS = 10
MIN_RSA_BITS = 2048
# {"keys": [{"x5c": [...]}]} nests 3 deep; JSON deeper than this is no JWK set.
MAX_DEPTH = 8
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")


class InvalidJwks(ValueError):
    """Not a usable public JWK set; the message says why (one short line)."""


def parse(text: bytes, *, max_length: int) -> dict[str, Any]:
    """The public JWK set in JSON text (a fetched jwks_uri document)."""
    try:
        value = jsontext.loads(text, max_length=max_length, max_depth=MAX_DEPTH)
    except jsontext.InvalidJson:
        raise InvalidJwks("is not JSON (or is nested too deeply)") from None
    return public_key_set(value)


def public_key_set(value: Any) -> dict[str, Any]:
    """`{"keys": [...]}` when `value` is a public JWK set we can use; else InvalidJwks."""
    keys = value.get("keys") if isinstance(value, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
        raise InvalidJwks('must be a JWK Set: {"keys": [...]}')
    if len(keys) > MAX_KEYS:
        raise InvalidJwks(f"at most {MAX_KEYS} keys")
    for key in keys:
        if key.get("kty") not in ("RSA", "EC"):
            raise InvalidJwks("only RSA and EC public keys are accepted")
        if any(private in key for private in PRIVATE_MEMBERS):
            raise InvalidJwks("contains private key material")
    imported = key_set({"keys": keys})
    for key in imported.keys:
        if key.key_type == "RSA" and key.raw_value.key_size < MIN_RSA_BITS:
            raise InvalidJwks(f"RSA keys must have at least {MIN_RSA_BITS} bits")
    return {"keys": keys}


def key_set(value: Any) -> KeySet:
    """joserfc's KeySet of a JWK set; InvalidJwks for anything it cannot import."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # joserfc warns about weak keys: refuse them
            return KeySet.import_key_set(value)
    except Warning:
        raise InvalidJwks(f"has a weak key (RSA keys need at least {MIN_RSA_BITS} bits)") from None
    # Untrusted input reaches deep into joserfc and cryptography, which raise KeyError,
    # ValueError, TypeError, JoseError, IndexError ... for members that are not keys: all
    # of them mean the same here.
    except Exception:
        raise InvalidJwks("is not a valid JWK Set") from None
