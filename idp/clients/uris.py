"""Rules for the URIs a client registers and presents: redirect URIs, its pages and endpoints.

Kept apart from the metadata rules so the authorization endpoint, the end-session endpoint
and the registration share one reading of RFC 6749 3.1.2, OIDC Registration 2 and RFC 8252 7.

Python's urlsplit and the WHATWG URL parser of browsers disagree on some strings: for
`http://localhost:7777\\@127.0.0.1:8080/cb` urlsplit reads the host 127.0.0.1, a browser
reads localhost:7777. So a presented redirect URI is never parsed to decide where it goes:
it must be, character for character, a registered one, or (RFC 8252 7.3) a registered
loopback one with a port put in, and the URI used is rebuilt from the registered string.
Registered URIs are refused when they hold anything the two parsers could read differently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import SplitResult, urlsplit

MAX_URI_LENGTH = 2000
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
# RFC 8252 7.3: a registered loopback redirect URI without a port, split where the port
# goes. Only the host the registration names: 127.0.0.1 never stands for [::1] or localhost.
PORTLESS_LOOPBACK_URI = re.compile(
    r"(http://(?:127\.0\.0\.1|\[::1\]|localhost))([/?].*)?", re.DOTALL
)
# A TCP port as written canonically: 1-65535, no sign, no leading zero (checked by value too).
PORT = re.compile(r"[1-9][0-9]{0,4}")
MAX_PORT = 65535
# An authority both parsers read alike: a host of letters, digits, dots, hyphens and
# underscores, or a bracketed IPv6 address, then an optional canonical port. No user
# information (`@`), no percent-encoding (browsers decode it in hosts, urlsplit does not),
# no backslash (a path separator for browsers), no IPv6 zone.
AUTHORITY = re.compile(r"(?:[A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\])(?::([1-9][0-9]{0,4}))?")
# Schemes that run code or read local data in the browser: never a redirect target.
FORBIDDEN_SCHEMES = ("javascript", "data", "vbscript", "file", "about", "blob", "filesystem")


class UriRejected(ValueError):
    """The URI breaks a rule; the message says which, in a sentence for the developer."""


def check_redirect_uri(uri: Any, application_type: str, development: bool) -> None:
    """Redirect URI rules by application_type (OIDC Registration 2, RFC 8252 7).

    Web applications use https (http only for localhost in development); native applications
    use a private-use scheme named after a domain (RFC 8252 7.1), a claimed https URL (7.2)
    or an http loopback address (7.3). Never a fragment (RFC 6749 3.1.2), userinfo or an
    active-content scheme.
    """
    check_uri_text(uri)
    if not uri.isascii():
        raise UriRejected(
            f"{uri!r} must be ASCII: percent-encode the path, write the host in punycode"
        )
    check_unambiguous(uri)
    parts = _split(uri)
    scheme = parts.scheme.lower()
    if not scheme:
        raise UriRejected(f"{uri!r} is not an absolute URI")
    if "#" in uri:
        raise UriRejected(f"{uri!r} has a fragment, which redirect URIs must not have")
    if scheme in FORBIDDEN_SCHEMES:
        raise UriRejected(f"the {scheme}: scheme is not allowed")
    if scheme in ("http", "https"):
        host = _host(parts, uri)
        if scheme == "http" and host not in LOOPBACK_HOSTS:
            raise UriRejected(f"{uri!r} must use https (http is only for loopback addresses)")
        if scheme == "http" and application_type == "web" and not development:
            raise UriRejected(
                f"{uri!r}: web applications must use https; http://localhost is allowed "
                "only in development"
            )
        return
    if application_type != "native":
        raise UriRejected(
            f"{uri!r}: custom URI schemes are for native applications "
            "(application_type native); web applications use https"
        )
    # RFC 8252 7.1: a private-use scheme based on a domain name the app's owner controls.
    if "." not in scheme:
        raise UriRejected(
            f"{uri!r}: a native app's scheme must be a reversed domain name, "
            "like vn.gov.haugiang.app:/oauth2redirect (RFC 8252 7.1)"
        )
    if "@" in parts.netloc:
        raise UriRejected(f"{uri!r} must not contain user information")


def check_web_uri(value: Any, development: bool) -> str:
    """An https URL of a page, a logo or an endpoint of the client (http: localhost in dev)."""
    check_uri_text(value)
    check_unambiguous(value)
    parts = _split(value)
    if parts.scheme not in ("http", "https"):
        raise UriRejected(f"{value!r} must be an https URL")
    host = _host(parts, value)
    if "#" in value:
        raise UriRejected(f"{value!r} must not have a fragment")
    if parts.scheme == "http" and not (development and host in LOOPBACK_HOSTS):
        raise UriRejected(f"{value!r} must use https (http only for localhost in development)")
    return value


def check_uri_text(uri: Any) -> None:
    if not isinstance(uri, str) or not uri:
        raise UriRejected("each value must be a non-empty string")
    if len(uri) > MAX_URI_LENGTH:
        raise UriRejected(f"a URI is longer than {MAX_URI_LENGTH} characters")
    if any(c.isspace() or not c.isprintable() for c in uri):
        raise UriRejected(f"{uri!r} contains spaces or control characters")


def check_unambiguous(uri: str) -> None:
    """Refuse a URI that urlsplit and browsers could read as different places.

    A backslash (browsers read it as `/` in http(s) URLs), and an authority with anything but
    a plain host and a canonical port (see AUTHORITY). Both parsers drop tabs and newlines,
    which check_uri_text refuses.
    """
    if "\\" in uri:
        raise UriRejected(f"{uri!r} contains a backslash")
    netloc = _split(uri).netloc
    if not netloc.isascii():
        raise UriRejected(f"{uri!r}: write the host in its ASCII (punycode) form")
    match = AUTHORITY.fullmatch(netloc)
    if match is None:
        raise UriRejected(
            f"{uri!r} has user information, a percent-encoded or invalid host, or an invalid port"
        )
    if match.group(1) and int(match.group(1)) > MAX_PORT:
        raise UriRejected(f"{uri!r} has a port above {MAX_PORT}")


def match_redirect_uri(
    presented: Any, registered: Iterable[str], *, loopback_port: bool
) -> str | None:
    """The redirect URI to use for a presented one, built from a registered URI, or None.

    RFC 9700 2.1 and 4.1.3: exact string comparison. With `loopback_port` (native
    applications), RFC 8252 7.3: a registered `http://127.0.0.1/...`, `http://[::1]/...` or
    `http://localhost/...` without a port also matches the same string with a port after the
    host. The presented string must equal the rebuilt one, so anything a parser could read
    otherwise (user information, backslashes, encodings, spaces) matches nothing.
    """
    if not isinstance(presented, str):
        return None
    registered = list(registered)
    for uri in registered:
        if presented == uri:
            return uri
    if not loopback_port:
        return None
    for uri in registered:
        match = PORTLESS_LOOPBACK_URI.fullmatch(uri)
        if match is None:
            continue
        authority, rest = match.group(1), match.group(2) or ""
        head = authority + ":"
        if not presented.startswith(head) or not presented.endswith(rest):
            continue
        port = presented[len(head) : len(presented) - len(rest)]
        if not PORT.fullmatch(port) or int(port) > MAX_PORT:
            continue
        rebuilt = f"{authority}:{int(port)}{rest}"
        if rebuilt == presented:
            return rebuilt
    return None


def origin(uri: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the default port filled in."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return ("", "", None)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return (parts.scheme, (parts.hostname or "").lower(), port or default)


def _split(uri: str) -> SplitResult:
    try:
        return urlsplit(uri)
    except ValueError as exc:  # an unbalanced or invalid bracketed IPv6 host
        raise UriRejected(f"{uri!r} is not a valid URI") from exc


def _host(parts: SplitResult, uri: str) -> str:
    if "@" in parts.netloc:
        raise UriRejected(f"{uri!r} must not contain user information")
    try:
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as exc:
        raise UriRejected(f"{uri!r} has an invalid host or port") from exc
    if not host or "*" in host:
        raise UriRejected(f"{uri!r} has no valid host")
    return host
