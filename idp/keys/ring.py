"""The key ring: which keys sign, which are published, and rotation between them.

Life of a key: next (published, unused) -> current (signing) -> retired (published until
every token it signed has expired) -> removed. Relying parties therefore always find the
`kid` of a token in the JWKS they fetched, provided they cache it no longer than
JWKS_MAX_AGE_SECONDS (Cache-Control) and KEY_PUBLISH_SECONDS is at least that.

Signing keys are cached per process (decrypting and parsing a key costs more than a
signature); which key is current is re-read from the database every KEY_CACHE_SECONDS, so
a rotation reaches every worker within that time. Either key is valid meanwhile: both are
published.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from base64 import urlsafe_b64encode
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from flask import current_app
from joserfc import jwk, jws, jwt
from joserfc.errors import JoseError
from sqlalchemy.orm import Session

from idp import sealing
from idp.extensions import db, own_transaction, utcnow
from idp.keys.crypto import KeyDecryptionError, decrypt, encrypt
from idp.keys.models import KEY_CURRENT, KEY_NEXT, KEY_RETIRED, SigningKey

SUPPORTED_ALGS = ("RS256", "ES256")
KEY_CACHE_SECONDS = 10.0


class KeyRingError(Exception):
    """A rotation or key operation that cannot be done, with a one-line reason."""


class InvalidJWT(Exception):
    """A JWT that is malformed, unsigned by us, or signed by an unknown key."""


def _encryption_secret() -> str:
    """KEY_ENCRYPTION_KEY; in development, when it is empty, SECRET_KEY. Production never
    falls back: idp.settings.check_settings refuses to start without a key of its own."""
    return sealing.key_encryption_key(current_app.config)


def _generate(alg: str) -> jwk.Key:
    if alg == "RS256":
        return jwk.RSAKey.generate_key(current_app.config["RSA_KEY_BITS"])
    if alg == "ES256":
        return jwk.ECKey.generate_key("P-256")
    raise KeyRingError(f"unsupported algorithm {alg!r}")


def create_key(
    alg: str, state: str, now: datetime | None = None, *, session: Session | None = None
) -> SigningKey:
    """Generate a key pair and store it (private part encrypted); the caller commits."""
    now = now or utcnow()
    key = _generate(alg)
    kid = f"{alg.lower()}-{now:%Y%m%d}-{secrets.token_hex(4)}"
    public = {**key.as_dict(private=False), "kid": kid, "alg": alg, "use": "sig"}
    pem = key.private_key.private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    row = SigningKey(
        kid=kid,
        alg=alg,
        state=state,
        public_jwk=public,
        private_encrypted=encrypt(_encryption_secret(), pem, kid.encode()),
        created_at=now,
        activated_at=now if state == KEY_CURRENT else None,
    )
    (session or db.session).add(row)
    return row


def _keys(
    alg: str | None = None,
    states: tuple[str, ...] | None = None,
    *,
    session: Session | None = None,
) -> list[SigningKey]:
    query = sa.select(SigningKey).order_by(SigningKey.created_at, SigningKey.id)
    if alg:
        query = query.where(SigningKey.alg == alg)
    if states:
        query = query.where(SigningKey.state.in_(states))
    return list((session or db.session).execute(query).scalars())


def ensure_keys(now: datetime | None = None, *, session: Session | None = None) -> bool:
    """Make sure every configured algorithm has a current and a next key; True if created.

    The first keys of a new installation sign at once: nothing can have cached a JWKS yet.
    """
    created = False
    for alg in current_app.config["KEY_ALGORITHMS"]:
        states = {k.state for k in _keys(alg, (KEY_CURRENT, KEY_NEXT), session=session)}
        if KEY_CURRENT not in states:
            create_key(alg, KEY_CURRENT, now, session=session)
            created = True
        if KEY_NEXT not in states:
            create_key(alg, KEY_NEXT, now, session=session)
            created = True
    if created:
        (session or db.session).flush()
        invalidate_cache()
    return created


def _bootstrap() -> bool:
    """Make the first keys of a new installation in a transaction of their own, committed at
    once, so that every process signs with them and /jwks lists them, whatever becomes of
    the caller's transaction; True when made there.

    One maker at a time: PostgreSQL by a transaction-scoped advisory lock, SQLite by taking
    its write lock before looking. A caller that has itself written to SQLite holds that
    lock already: then the keys are made in the caller's transaction (False), which its
    entry point commits.
    """
    if _holds_sqlite_write_lock():
        ensure_keys()
        return False
    with own_transaction() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _KEY_LOCK})
        else:
            session.execute(sa.delete(SigningKey).where(sa.false()))  # takes the write lock
        ensure_keys(session=session)
    return True


# The advisory lock of the first keys' making (any constant shared by every process).
_KEY_LOCK = 0x1D9_4B3E


def _holds_sqlite_write_lock() -> bool:
    if not db.session.registry.has():
        return False
    session = db.session()
    if not session.in_transaction() or session.get_bind().dialect.name != "sqlite":
        return False
    return bool(session.connection().connection.driver_connection.in_transaction)


@dataclass
class RotationResult:
    alg: str
    retired: str | None
    current: str
    next: str


def rotate(alg: str, *, force: bool = False, now: datetime | None = None) -> RotationResult:
    """next -> current, current -> retired, and a fresh next. The caller commits.

    Refused (KeyRingError) while the next key has been published for less than
    KEY_PUBLISH_SECONDS, unless forced (a compromised key must go at once).
    """
    now = now or utcnow()
    cfg = current_app.config
    if alg not in SUPPORTED_ALGS:
        raise KeyRingError(f"unsupported algorithm {alg!r}; use one of {', '.join(SUPPORTED_ALGS)}")
    ensure_keys(now)
    current = _keys(alg, (KEY_CURRENT,))
    upcoming = _keys(alg, (KEY_NEXT,))
    successor = upcoming[0]
    published_for = (now - successor.created_at).total_seconds()
    if not force and published_for < cfg["KEY_PUBLISH_SECONDS"]:
        wait = int(cfg["KEY_PUBLISH_SECONDS"] - published_for)
        raise KeyRingError(
            f"the next {alg} key {successor.kid} has been published for {int(published_for)} s; "
            f"relying parties may not know it yet: wait {wait} s or use --force"
        )
    retired_kid = None
    for old in current:
        old.state = KEY_RETIRED
        old.retired_at = now
        old.remove_after = now + timedelta(seconds=cfg["KEY_RETIRE_SECONDS"])
        retired_kid = old.kid
    successor.state = KEY_CURRENT
    successor.activated_at = now
    fresh = create_key(alg, KEY_NEXT, now)
    db.session.flush()
    invalidate_cache()
    return RotationResult(alg=alg, retired=retired_kid, current=successor.kid, next=fresh.kid)


def rotation_due(alg: str, now: datetime | None = None) -> bool:
    now = now or utcnow()
    current = _keys(alg, (KEY_CURRENT,))
    if not current:
        return True
    since = current[-1].activated_at or current[-1].created_at
    return now - since >= timedelta(days=current_app.config["KEY_ROTATION_DAYS"])


def remove_expired(now: datetime | None = None) -> int:
    """Remove retired keys whose tokens have all expired. The caller commits."""
    now = now or utcnow()
    result = db.session.execute(
        sa.delete(SigningKey).where(SigningKey.state == KEY_RETIRED, SigningKey.remove_after <= now)
    )
    invalidate_cache()
    return result.rowcount or 0


def list_keys() -> list[SigningKey]:
    return _keys()


def reencrypt(previous: str) -> int:
    """Re-encrypt under the configured key every private key stored under `previous` (a
    former KEY_ENCRYPTION_KEY, or SECRET_KEY for a development-made database); returns how
    many. Keys already under the configured key are left alone, so running it again is
    harmless. Raises KeyDecryptionError when a key opens with neither. The caller commits.
    """
    secret = _encryption_secret()
    changed = 0
    for row in _keys():
        associated = row.kid.encode()
        try:
            decrypt(secret, row.private_encrypted, associated)
            continue
        except KeyDecryptionError:
            pem = decrypt(previous, row.private_encrypted, associated)
        row.private_encrypted = encrypt(secret, pem, associated)
        changed += 1
    invalidate_cache()
    return changed


# ---------------------------------------------------------------- per-process cache


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loaded_at = 0.0
        self.app_key: object = None
        self.current: dict[str, tuple[str, jwk.Key]] = {}
        self.public: dict[str, jwk.Key] = {}
        self.private: dict[str, jwk.Key] = {}
        self.jwks_json = b""


_cache = _Cache()


def invalidate_cache() -> None:
    _cache.loaded_at = 0.0


def _load() -> _Cache:
    app_key = current_app._get_current_object()  # type: ignore[attr-defined]
    fresh = time.monotonic() - _cache.loaded_at < KEY_CACHE_SECONDS
    if fresh and _cache.app_key is app_key:
        return _cache
    with _cache.lock:
        rows = _keys(states=(KEY_NEXT, KEY_CURRENT, KEY_RETIRED))
        target = _cache
        if not any(r.state == KEY_CURRENT for r in rows):
            # A new installation's first keys (_bootstrap). Made in the caller's transaction,
            # they are not cached until read back committed, so a first request that fails
            # leaves no key in use that the database does not hold.
            if not _bootstrap():
                target = _Cache()
            rows = _keys(states=(KEY_NEXT, KEY_CURRENT, KEY_RETIRED))
        if _cache.app_key is not app_key:
            _cache.private = {}
        secret = _encryption_secret()
        current: dict[str, tuple[str, jwk.Key]] = {}
        for row in rows:
            if row.state == KEY_CURRENT:
                key = _cache.private.get(row.kid)
                if key is None:
                    pem = decrypt(secret, row.private_encrypted, row.kid.encode())
                    key = jwk.import_key(pem, "RSA" if row.alg == "RS256" else "EC")
                    _cache.private[row.kid] = key
                current[row.alg] = (row.kid, key)  # the newest current key wins
        target.public = {row.kid: jwk.import_key(row.public_jwk) for row in rows}
        target.current = current
        target.jwks_json = json.dumps(
            {"keys": [row.public_jwk for row in rows]}, separators=(",", ":")
        ).encode()
        target.app_key = app_key
        if target is _cache:
            _cache.loaded_at = time.monotonic()
        return target


def jwks_document() -> bytes:
    """The JWKS as compact JSON bytes: every next, current and retired public key."""
    return _load().jwks_json


def jwks_snapshot() -> tuple[bytes, Callable[[], bool]]:
    """The JWKS bytes, and a check telling whether they are still what the ring holds.

    The check turns false when the cache is reloaded or invalidated (a rotation in this
    process) and after KEY_CACHE_SECONDS at most (a rotation in another process).
    """
    cache = _load()
    loaded_at, app_key = cache.loaded_at, cache.app_key
    valid_until = loaded_at + KEY_CACHE_SECONDS

    def still_valid() -> bool:
        return (
            _cache.loaded_at == loaded_at
            and _cache.app_key is app_key
            and time.monotonic() < valid_until
        )

    return cache.jwks_json, still_valid


def _b64(data: bytes) -> bytes:
    return urlsafe_b64encode(data).rstrip(b"=")


_headers: dict[tuple[str, str, str], bytes] = {}


def _header_segment(alg: str, kid: str, typ: str) -> bytes:
    segment = _headers.get((alg, kid, typ))
    if segment is None:
        header = json.dumps({"alg": alg, "kid": kid, "typ": typ}, separators=(",", ":"))
        segment = _b64(header.encode())
        if len(_headers) > 64:
            _headers.clear()
        _headers[(alg, kid, typ)] = segment
    return segment


def _signature(key: jwk.Key, alg: str, signing_input: bytes) -> bytes:
    """RFC 7518 3.3 (RS256: RSASSA-PKCS1-v1_5 with SHA-256) or 3.4 (ES256: ECDSA P-256 with
    SHA-256, the signature as R and S, 32 bytes each)."""
    private = key.private_key  # type: ignore[attr-defined]
    if alg == "ES256":
        r, s = decode_dss_signature(private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())


def sign_jwt(claims: dict[str, Any], *, alg: str = "RS256", typ: str = "JWT") -> str:
    """A compact JWS (RFC 7515 7.1) over the claims, signed with the current key for `alg`.

    Built here rather than with joserfc's encoder, whose generic checks and conversions cost
    as much as an ES256 signature itself: 35 µs of CPU per token, 12 % of a
    client_credentials grant (`python -m bench.layers --in-process --only jws-signer`,
    docs/performance.md). Tokens are verified with joserfc (verify_jwt) and by relying
    parties with their own libraries.
    """
    cache = _load()
    if alg not in cache.current:
        raise KeyRingError(f"no current {alg} signing key (is {alg} in KEY_ALGORITHMS?)")
    kid, key = cache.current[alg]
    payload = json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode()
    signing_input = _header_segment(alg, kid, typ) + b"." + _b64(payload)
    return (signing_input + b"." + _b64(_signature(key, alg, signing_input))).decode("ascii")


def signing_algs() -> list[str]:
    return [a for a in SUPPORTED_ALGS if a in current_app.config["KEY_ALGORITHMS"]]


def verify_jwt(token: str, *, typ: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check that one of our published keys signed this compact JWS; (header, claims).

    Claims (exp, aud, ...) are the caller's to check. Raises InvalidJWT.
    """
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 16384:
        raise InvalidJWT("not a compact JWS")
    try:
        header = jws.extract_compact(token.encode()).protected
    except (JoseError, ValueError) as exc:
        raise InvalidJWT("malformed JWS") from exc
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in SUPPORTED_ALGS or not isinstance(kid, str):
        raise InvalidJWT("unsupported alg or missing kid")
    if typ is not None and str(header.get("typ", "")).lower() != typ.lower():
        raise InvalidJWT("unexpected typ")
    cache = _load()
    key = cache.public.get(kid)
    if key is None or key.get("alg") != alg:
        raise InvalidJWT("unknown kid")
    try:
        decoded = jwt.decode(token, key, algorithms=[alg])
    except (JoseError, ValueError) as exc:
        raise InvalidJWT("bad signature") from exc
    return decoded.header, decoded.claims
