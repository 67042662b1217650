"""Talking to the LDAP server (ldap3): connect, bind, paged search, a deadline per exchange.

ldap3 is pure Python: it installs with the provider on a bare machine (no libldap headers,
no compiler, as python-ldap would need), and it speaks StartTLS, LDAPS and the simple paged
results control (RFC 2696) the sync reads a large directory with.

Every failure of the server (refused connection, TLS, a timeout, a connection dropped in the
middle of a search) becomes SourceUnavailable; a service account the server refuses,
SourceRefused. Neither message carries a password.
"""

from __future__ import annotations

import math
import re
import socket
import ssl
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from idp.directory.ldap.config import LdapSettings
from idp.errors import IdpError

# ldap3 (about 145 ms to import) is imported by the functions that talk to a server: every
# `idp` command and every application start import this module, few of them use LDAP.
if TYPE_CHECKING:
    from ldap3 import Connection, Server, Tls

# The simple paged results control (RFC 2696).
PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
RESULT_SUCCESS = 0
RESULT_INVALID_CREDENTIALS = 49


class SourceUnavailable(IdpError):
    """The LDAP server cannot be reached, did not answer in time, or went away."""


class SourceRefused(SourceUnavailable):
    """The LDAP server refused the service account's bind (or its search)."""


@dataclass
class RawEntry:
    dn: str
    attributes: dict[str, list[Any]]


class Deadline:
    """One deadline for a whole exchange (connect, StartTLS, binds, searches), not per read:
    before each step the socket's timeout is set to the time that remains."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise SourceUnavailable(f"the LDAP server did not answer within {self.seconds:g} s")
        return left

    def arm(self, conn: Connection) -> None:
        if conn.socket is not None:
            conn.socket.settimeout(self.remaining())


@cache
def _verified_tls_class() -> type[Tls]:
    """The class VerifiedTls, made at first use (it derives from ldap3's Tls)."""
    from ldap3 import Tls

    class VerifiedTls(Tls):
        """ldap3's TLS with the standard library's own checks: the certificate must chain to
        IDP_LDAP_CA_FILE (or the system's CAs) and name the host of IDP_LDAP_URL. (ldap3 2.9
        checks names with ssl.match_hostname, deprecated and gone from Python 3.12.)"""

        def __init__(self, ca_file: str | None, host: str) -> None:
            super().__init__(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file)
            self.context = ssl.create_default_context(cafile=ca_file)
            self.host = host

        def wrap_socket(self, connection: Connection, do_handshake: bool = False) -> None:
            connection.socket = self.context.wrap_socket(
                connection.socket, server_hostname=self.host, do_handshake_on_connect=do_handshake
            )

    return VerifiedTls


def _server(settings: LdapSettings, timeout: float) -> Server:
    from ldap3 import NONE, Server

    parts = urlsplit(settings.url)
    secure = parts.scheme == "ldaps"
    host = parts.hostname or ""
    return Server(
        host,
        port=parts.port or (636 if secure else 389),
        use_ssl=secure,
        tls=_verified_tls_class()(settings.ca_file, host),
        get_info=NONE,
        connect_timeout=timeout,
    )


@contextmanager
def connection(
    settings: LdapSettings, deadline: Deadline, *, service_bind: bool = True
) -> Iterator[Connection]:
    """An open connection (StartTLS on ldap:// unless disabled), bound as the service account
    when `service_bind` and one is configured; closed afterwards."""
    from ldap3 import Connection
    from ldap3.core.exceptions import LDAPException

    conn = Connection(
        _server(settings, deadline.remaining()),
        auto_bind="NONE",
        read_only=True,
        raise_exceptions=False,
        # Whole seconds: ldap3 packs it into SO_RCVTIMEO as an integer. Deadline.arm sets
        # the socket's own timeout to what remains before each step.
        receive_timeout=max(1, math.ceil(deadline.remaining())),
        return_empty_attributes=False,
    )
    try:
        try:
            conn.open()
            if urlsplit(settings.url).scheme == "ldap" and settings.start_tls:
                deadline.arm(conn)
                if not conn.start_tls():
                    raise SourceUnavailable("the LDAP server refused StartTLS")
            if service_bind and settings.bind_dn:
                deadline.arm(conn)
                if not _bind(conn, settings.bind_dn, settings.bind_password):
                    raise SourceRefused(
                        f"the LDAP server refused the bind of {settings.bind_dn} "
                        f"({conn.result.get('description', 'no answer')})"
                    )
            yield conn
        except (LDAPException, OSError, ssl.SSLError) as exc:
            raise SourceUnavailable(_describe(exc)) from None
    finally:
        with suppress(LDAPException, OSError):
            conn.unbind()
        if conn.socket is not None:
            with suppress(OSError):
                conn.socket.close()


def _describe(exc: BaseException) -> str:
    """One readable line: ldap3 wraps socket errors in tuples of reprs, unwrapped here."""
    if isinstance(exc, socket.timeout | TimeoutError):
        return "the LDAP server did not answer in time"
    text = re.sub(r"[\"'()\\]+", "", str(exc).splitlines()[0] if str(exc) else "")
    text = text.strip(" ,") or exc.__class__.__name__
    return f"the LDAP server cannot be used: {exc.__class__.__name__}: {text[:300]}"


def _bind(conn: Connection, dn: str, password: str) -> bool:
    """A simple bind on the open connection (the only kind this module makes)."""
    from ldap3 import SIMPLE

    if not password:
        return False
    conn.user, conn.password, conn.authentication = dn, password, SIMPLE
    return bool(conn.bind())


def read_entries(settings: LdapSettings, attributes: list[str]) -> Iterator[RawEntry]:
    """Every entry under the base DN that matches the filter, page by page.

    Each page has its own deadline of LDAP_TIMEOUT_SECONDS; a server that stops answering
    or goes away between two pages raises SourceUnavailable (the caller has written
    nothing yet: it reads everything before it applies anything)."""
    from ldap3 import SUBTREE

    with connection(settings, Deadline(settings.timeout_seconds)) as conn:
        cookie: bytes | None = None
        while True:
            Deadline(settings.timeout_seconds).arm(conn)
            ok = conn.search(
                settings.base_dn,
                settings.filter,
                search_scope=SUBTREE,
                attributes=attributes,
                paged_size=settings.page_size,
                paged_cookie=cookie,
            )
            if not ok and conn.result.get("result") != RESULT_SUCCESS:
                raise SourceUnavailable(
                    "the LDAP search failed: "
                    f"{conn.result.get('description')} {conn.result.get('message', '')}".strip()
                )
            for item in conn.response or []:
                if item.get("type") == "searchResEntry":
                    yield RawEntry(item["dn"], item["raw_attributes"])
            controls = conn.result.get("controls") or {}
            cookie = controls.get(PAGED_RESULTS_OID, {}).get("value", {}).get("cookie")
            if not cookie:
                return


def id_filter(settings: LdapSettings, external_id: str) -> str:
    """The search for one account by its stable identifier, values escaped (RFC 4515 3)."""
    from ldap3.utils.conv import escape_bytes, escape_filter_chars

    amap = settings.attributes
    if amap.binary_id:
        try:
            value = escape_bytes(uuid.UUID(external_id).bytes_le)
        except ValueError:
            value = escape_filter_chars(external_id)
    else:
        value = escape_filter_chars(external_id)
    return f"(&{settings.filter}({amap.external_id}={value}))"


def check_password(settings: LdapSettings, external_id: str, password: str) -> bool:
    """Whether the server accepts `password` for the account with this identifier: its DN
    found by the service account, then a bind as that DN, all within one deadline.

    Never binds with an empty password: RFC 4513 5.1.2 makes that an unauthenticated bind,
    which servers answer with success."""
    from ldap3 import SUBTREE

    if not password or not external_id:
        return False
    deadline = Deadline(settings.timeout_seconds)
    with connection(settings, deadline) as conn:
        deadline.arm(conn)
        conn.search(
            settings.base_dn,
            id_filter(settings, external_id),
            search_scope=SUBTREE,
            attributes=[],
            size_limit=2,
        )
        if conn.result.get("result") not in (RESULT_SUCCESS, 4):
            raise SourceUnavailable(f"the LDAP search failed: {conn.result.get('description')}")
        found = [e["dn"] for e in conn.response or [] if e.get("type") == "searchResEntry"]
        if len(found) != 1:
            return False
        deadline.arm(conn)
        if _bind(conn, found[0], password):
            return True
        if conn.result.get("result") == RESULT_INVALID_CREDENTIALS:
            return False
        raise SourceUnavailable(f"the LDAP bind failed: {conn.result.get('description')}")
