"""Rate limits on the endpoints programs call: token, introspection, revocation, dynamic
registration and its management (Flask-Limiter, docs/security.md "Rate limits").

Each limited endpoint has two limits:

- its **calls**, a setting per endpoint (RATE_LIMIT_TOKEN ...), counted when the answer
  succeeds, per client when the request carried client credentials (HTTP Basic, a
  `client_secret` or a `client_assertion` with its `client_id`; for registration
  management, the registration access token and the `client_id` in the path), per client
  address otherwise (public clients, registration). Only a success counts against a
  client: a success means the credentials were right, so nobody can spend a client's
  allowance by naming it, with any spelling, without its secret;
- the **failures** of the client address (RATE_LIMIT_FAILURES, shared by all these
  endpoints): every 4xx answer but a 429 counts, whatever client was named, so guessing
  secrets, codes, refresh tokens or registration tokens is slowed down whatever names
  the guesses carry.

A request over either limit gets 429, `Retry-After`, and a JSON body with OAuth's error
shape. RFC 6749 defines no error code for it; `temporarily_unavailable` (RFC 6749
4.1.2.1, "temporary overloading") is the registered code whose meaning fits, and the
status and `Retry-After` (RFC 6585 4) say the rest.

The client address is `request.remote_addr`, as everywhere else: the socket's, or the one
TRUSTED_PROXIES trusted proxies put in X-Forwarded-For (idp.security), so a client that
sends its own X-Forwarded-For cannot choose its counter. An IPv6 /64 is one address.

The counters live in memory (one set per process) unless REDIS_URL names a Redis server,
which every worker and host then shares. When Redis does not answer, each process counts
in memory until it answers again (checked with growing pauses): the provider keeps
serving, with limits per process meanwhile.

One limiter per application (app.extensions), not a module-wide one: Flask-Limiter keeps
its storage on the limiter object, and each application (each test's) has its own.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import math
import time
from collections.abc import Callable
from urllib.parse import unquote

from flask import Flask, Response, current_app, jsonify, request
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many
from werkzeug.exceptions import HTTPException

log = logging.getLogger("idp.limits")

EXTENSION_KEY = "idp.limits"
# The error code of a refused call (see the module's docstring).
ERROR = "temporarily_unavailable"
ERROR_DESCRIPTION = "Too many requests; try again after the time given in Retry-After."
# Counters are cheapest and need no more precision: a sliding window counter costs one
# key per window, and unlike a fixed window it allows no double burst at a window's edge.
STRATEGY = "sliding-window-counter"
# The scope of the failures limit: one counter per address for every limited endpoint.
FAILURES_SCOPE = "failures"
IPV6_PREFIX_LENGTH = 64
KEY_MAX_LENGTH = 200
# Redis must answer within this: a stalled server delays no request longer.
REDIS_TIMEOUT_SECONDS = 0.5
# The settings, each a limit string such as "3000 per minute" (checked at start).
LIMIT_SETTINGS = (
    "RATE_LIMIT_TOKEN",
    "RATE_LIMIT_INTROSPECTION",
    "RATE_LIMIT_REVOCATION",
    "RATE_LIMIT_REGISTRATION",
    "RATE_LIMIT_ADMIN_API",
    "RATE_LIMIT_FAILURES",
)


def client_network(ip: str | None) -> str:
    """The address a counter is kept for: IPv4 as is (also when mapped into IPv6), IPv6 by
    its /64 (one subscriber's allocation); anything else as given, bounded."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:  # not an address (a proxy's header): counted as given
        return (ip or "-")[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        bits = 128 - IPV6_PREFIX_LENGTH
        return str(ipaddress.IPv6Network((int(address) >> bits << bits, IPV6_PREFIX_LENGTH)))
    return str(address)


def address_key() -> str:
    return "addr:" + client_network(request.remote_addr)


def _basic_client_id(value: str) -> str | None:
    """The client_id of an HTTP Basic header, decoded as Authlib decodes it (RFC 6749 2.3.1)."""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    client_id, colon, _secret = decoded.partition(":")
    return unquote(client_id) if colon and client_id else None


def presented_client_id() -> str | None:
    """The client_id a request authenticates as, when it carries credentials; else None.

    Never raises: Flask-Limiter takes any error of a key function for its storage failing,
    and would count in memory from then on."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        return _basic_client_id(value)
    if scheme.lower() == "bearer":
        # Registration management: the registration access token is for the client in the path.
        return (request.view_args or {}).get("client_id") or None
    if request.mimetype == "application/x-www-form-urlencoded":
        try:
            form = request.form
        except HTTPException:  # too large: the endpoint answers it; counted by address
            return None
        if form.get("client_secret") or form.get("client_assertion"):
            return form.get("client_id") or None
    return None


def client_or_address() -> str:
    """The key of an endpoint's calls: the client, or the client address without credentials."""
    client_id = presented_client_id()
    if client_id:
        return (
            "client:" + "".join(c if c.isprintable() else "?" for c in client_id)[:KEY_MAX_LENGTH]
        )
    return address_key()


def succeeded(response: Response) -> bool:
    return response.status_code < 400


def failed(response: Response) -> bool:
    # A 429 is the limiter's own answer: counting it would keep a refused client refused.
    return 400 <= response.status_code < 500 and response.status_code != 429


def check_limits(settings: dict) -> str | None:
    """The first setting that is not a limit string, with the reason; None when all are."""
    for key in LIMIT_SETTINGS:
        value = settings.get(key)
        try:
            if not isinstance(value, str) or not parse_many(value):
                raise ValueError
            if any(item.amount < 1 for item in parse_many(value)):
                raise ValueError  # "0 per minute" would refuse every call
        except ValueError:
            return f"IDP_{key} must be a rate limit such as '3000 per minute', got {value!r}"
    if not isinstance(settings.get("REDIS_URL", ""), str):
        return "IDP_REDIS_URL must be a redis:// URL or empty"
    url = settings.get("REDIS_URL", "")
    if url and not url.startswith(("redis://", "rediss://", "redis+unix://")):
        return "IDP_REDIS_URL must be a redis://, rediss:// or redis+unix:// URL, or empty"
    return None


def init_app(app: Flask) -> None:
    """Create the application's limiter; endpoints are limited by `limit` afterwards."""
    redis_url = app.config.get("REDIS_URL") or ""
    options: dict = {}
    if redis_url:
        options = {
            "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            "socket_timeout": REDIS_TIMEOUT_SECONDS,
        }
    limiter = Limiter(
        key_func=address_key,
        app=app,
        storage_uri=redis_url or "memory://",
        storage_options=options,
        strategy=STRATEGY,
        key_prefix=app.config["RATE_LIMIT_KEY_PREFIX"],
        # Redis away: count in memory meanwhile, and never turn its error into a 500.
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        headers_enabled=False,
    )
    # Every limit here is a view's own (`limit`), checked by the view's wrapper. The
    # limiter's hook before every request looks for application-wide and blueprint limits,
    # of which there are none, at ~40 µs of CPU per request (pages, JWKS, userinfo, all):
    # taken out. Its hooks after the request (deducting a call once its answer is known)
    # stay.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    app.extensions[EXTENSION_KEY] = limiter
    app.register_error_handler(RateLimitExceeded, too_many_requests)


def limit(
    app: Flask, endpoint: str, setting: str, key_func: Callable[[], str] = client_or_address
) -> None:
    """Limit an endpoint's calls by `setting` (counted per `key_func`), and its failures by
    RATE_LIMIT_FAILURES."""
    limiter: Limiter = app.extensions[EXTENSION_KEY]
    calls = limiter.limit(app.config[setting], key_func=key_func, deduct_when=succeeded)
    failures = limiter.shared_limit(
        app.config["RATE_LIMIT_FAILURES"],
        scope=FAILURES_SCOPE,
        key_func=address_key,
        deduct_when=failed,
    )
    view: Callable = app.view_functions[endpoint]
    app.view_functions[endpoint] = failures(calls(view))


def _retry_after_seconds(limiter: Limiter, exc: RateLimitExceeded) -> int:
    """Whole seconds until the refused counter allows a call again (at least 1)."""
    try:
        current = limiter.current_limit
        if current is not None:
            return max(1, math.ceil(current.window[0] - time.time()))
    except Exception:  # the storage failed just now: the limit's window is an upper bound
        log.warning("rate limit storage did not answer for Retry-After")
    return max(1, int(exc.limit.limit.get_expiry()))


def retry_after_seconds(exc: RateLimitExceeded) -> int:
    """The Retry-After of a refused call (for answers in other forms: the admin API's)."""
    return _retry_after_seconds(current_app.extensions[EXTENSION_KEY], exc)


def too_many_requests(exc: RateLimitExceeded) -> Response:
    """The answer to a call over a limit: 429, Retry-After, an OAuth-style JSON error."""
    response = jsonify({"error": ERROR, "error_description": ERROR_DESCRIPTION})
    response.status_code = 429
    response.headers["Retry-After"] = str(retry_after_seconds(exc))
    response.headers["Cache-Control"] = "no-store"
    return response
