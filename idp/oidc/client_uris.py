"""Rules for the URIs a client registers: redirect URIs and the URLs of its pages and endpoints.

Kept apart from the metadata rules so the authorization endpoint's error page and the
registration share one reading of RFC 6749 3.1.2, OIDC Registration 2 and RFC 8252 7.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import SplitResult, urlsplit

MAX_URI_LENGTH = 2000
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
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
    parts = urlsplit(uri)
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
    parts = urlsplit(value)
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


def origin(uri: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the default port filled in."""
    parts = urlsplit(uri)
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return (parts.scheme, (parts.hostname or "").lower(), port or default)


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
