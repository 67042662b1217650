"""The one way the server calls out over HTTP.

Client JWKS documents (idp.oidc.client_keys) and back-channel logout tokens
(idp.sessions.delivery) go through `fetch`; so will upstream identity providers and mail
relays. What a caller gets, whatever the peer does (docs/outbound.md):

- only `http` and `https` URLs without userinfo (`user:pass@`), backslashes or spaces;
- the host is resolved once, and every address it resolves to is checked (`may_call`):
  against every range that is not public (`is_public_address`) unless private targets
  are allowed (OUTBOUND_ALLOW_PRIVATE_TARGETS, `allow_private_targets`), and against
  link-local, multicast and unspecified addresses always (`is_never_called`: cloud
  metadata services live there). The connection goes to a checked address, so a second
  DNS answer cannot send it elsewhere (DNS rebinding), and TLS still verifies the
  certificate for the URL's host name (SNI);
- no redirect is followed: a 3xx answer is an `OutboundError`;
- one deadline for the whole exchange (name lookup, connect, TLS handshake, sending, every
  read): the socket timeout is recomputed from the time left before each send and receive,
  so a peer that trickles one byte at a time cannot stretch it;
- a cap on what is read: the status line and headers, then the body.

Failures raise `OutboundError`, whose `reason` says which rule or step failed and whose
message is one short line naming the host only (never the URL's query, never a token).
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# ---------------------------------------------------------------- errors

BAD_URL = "bad_url"  # not an http(s) URL we may call: permanent
FORBIDDEN_ADDRESS = "forbidden_address"  # the host is (or resolves to) a non-public address
RESOLVE = "resolve"  # the name could not be resolved
CONNECT = "connect"  # no address accepted the connection
TLS = "tls"  # handshake or certificate failure
DEADLINE = "deadline"  # the whole exchange took longer than allowed
TOO_LARGE = "too_large"  # headers or body over the cap
REDIRECT = "redirect"  # a 3xx answer: never followed
PROTOCOL = "protocol"  # the peer broke the connection or spoke broken HTTP

# Retrying cannot help: the URL or its address is refused by rule.
PERMANENT_REASONS = frozenset({BAD_URL, FORBIDDEN_ADDRESS})


class OutboundError(Exception):
    """An outbound call that did not produce an answer we accept."""

    def __init__(self, reason: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status

    @property
    def permanent(self) -> bool:
        return self.reason in PERMANENT_REASONS


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    # Header names in lower case; a repeated header keeps its last value.
    headers: dict[str, str]
    body: bytes
    # The address the answer came from (the checked, pinned one).
    address: str
    # True when the body was cut at max_bytes (only with truncate=True).
    truncated: bool = False


# Status line and headers together; what a JSON API or a logout endpoint sends is far less.
HEADER_BYTES_MAX = 16 * 1024
# Chunked-encoding framing and trailers read on top of the body's own max_bytes.
FRAMING_BYTES_MAX = 16 * 1024
USER_AGENT = "idp-outbound/1"
# Name lookups in progress at once per process; a resolver that stalls (a hostile
# authoritative server) holds one each until the system's own resolver timeout.
LOOKUPS_MAX = 16

_lookups = threading.BoundedSemaphore(LOOKUPS_MAX)
_tls_context: ssl.SSLContext | None = None
_tls_lock = threading.Lock()


# ---------------------------------------------------------------- which addresses


# Ranges that `ipaddress`'s is_global (Python 3.11) leaves global although nobody on the
# internet should be reached there: multicast, "this network", shared address space
# (RFC 6598), IETF protocol assignments, the 6to4 relay anycast, benchmarking, reserved.
_NON_PUBLIC_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "100.64.0.0/10",
        "192.0.0.0/24",
        "192.88.99.0/24",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
)
# IPv6: only global unicast (2000::/3) is allowed at all, which leaves out loopback,
# unspecified, IPv4-compatible and -translated forms, ULA, link- and site-local, multicast
# and the local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215). Within it these are refused:
_NON_PUBLIC_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "2001::/32",  # Teredo: the IPv4 address inside is obfuscated, refuse them all
        "2001:2::/48",  # benchmarking
        "2001:10::/28",  # ORCHID
        "2001:20::/28",  # ORCHIDv2
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637)
    )
)
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
# RFC 6052 well-known NAT64 prefix: 64:ff9b::a9fe:a9fe is 169.254.169.254 through a
# translator.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: IPv4-mapped (::ffff:0:0/96), NAT64
    (64:ff9b::/96) or 6to4 (2002::/16); None for the others."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


# RFC 8215 local-use NAT64 prefix; a network may use any RFC 6052 2.2 layout inside it.
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")


def _rfc6052_ipv4(ip: ipaddress.IPv6Address, prefix_length: int) -> ipaddress.IPv4Address:
    """The IPv4 address in an IPv4-embedded IPv6 address with a prefix of this length
    (RFC 6052 2.2: bits 64-71, the "u" octet, are skipped)."""
    if prefix_length == 96:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    value = int(ip)
    # Drop the u octet: the 120 bits left hold the IPv4 address right after the prefix.
    without_u = (value >> 72) << 56 | (value & ((1 << 56) - 1))
    return ipaddress.IPv4Address(without_u >> (120 - prefix_length - 32) & 0xFFFFFFFF)


def _ipv4_forms(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address may stand for, beyond _embedded_ipv4: IPv4-
    compatible (RFC 4291 2.5.5.1), IPv4-translated (RFC 2765), local-use NAT64 in each
    RFC 6052 layout, and a Teredo client's address (RFC 4380 4). For the never-called
    rule: none of these may reach the metadata service where private targets are allowed.
    """
    forms = []
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        forms.append(embedded)
    if ip in _IPV4_COMPATIBLE or ip in _IPV4_TRANSLATED:
        forms.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip in _NAT64_LOCAL:
        forms += [_rfc6052_ipv4(ip, length) for length in (48, 56, 64, 96)]
    if ip.teredo is not None:
        forms.append(ip.teredo[1])
    return forms


def _is_public_v4(ip: ipaddress.IPv4Address) -> bool:
    return ip.is_global and not any(ip in net for net in _NON_PUBLIC_V4)


def is_public_address(address: str) -> bool:
    """True when the address is a public unicast address (of the internet at large).

    An IPv6 form of an IPv4 address is judged by that IPv4 address. Anything unparsable
    is not public.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv4Address):
        return _is_public_v4(ip)
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return _is_public_v4(embedded)
    return (
        ip in _GLOBAL_UNICAST_V6 and ip.is_global and not any(ip in net for net in _NON_PUBLIC_V6)
    )


# Never called, even where private targets are allowed: no relying party lives on a
# link-local address, but cloud metadata services do (169.254.169.254, fd00:ec2::254);
# nor on multicast, broadcast, "this network" or reserved addresses.
_NEVER_V4 = tuple(
    ipaddress.IPv4Network(n) for n in ("0.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4")
)
_THIS_NETWORK = _NEVER_V4[0]
_NEVER_V6 = tuple(
    ipaddress.IPv6Network(n) for n in ("::/128", "fe80::/10", "ff00::/8", "fd00:ec2::254/128")
)


def is_never_called(address: str) -> bool:
    """True for addresses refused whatever OUTBOUND_ALLOW_PRIVATE_TARGETS says."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv4Address):
        return any(ip in net for net in _NEVER_V4)
    if any(ip in net for net in _NEVER_V6):
        return True
    embedded = _embedded_ipv4(ip)
    if embedded is not None and any(embedded in net for net in _NEVER_V4):
        return True
    # The other forms: 0.0.0.0/8 there is padding (::1 is loopback, not 0.0.0.1), so
    # only the ranges where an address may stand for the metadata service count.
    return any(v4 in net for v4 in _ipv4_forms(ip) for net in _NEVER_V4 if net != _THIS_NETWORK)


def may_call(address: str, *, allow_private: bool) -> bool:
    """Whether a connection to this address is allowed: public ones always; non-public
    ones only when private targets are allowed, and never the is_never_called ones."""
    if allow_private:
        return not is_never_called(address)
    return is_public_address(address)


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def allow_private_targets(config: Any) -> bool:
    """OUTBOUND_ALLOW_PRIVATE_TARGETS: true/false, or "auto": true only when the issuer
    itself is on 127.0.0.1 or localhost (a development machine)."""
    value = config.get("OUTBOUND_ALLOW_PRIVATE_TARGETS", "auto")
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    return (urlsplit(config["ISSUER"]).hostname or "") in LOOPBACK_HOSTS


# ---------------------------------------------------------------- the URL


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent on the request line


def _parse(url: str) -> _Target:
    if not isinstance(url, str) or not url.isascii() or any(c in url for c in "\\ \t\r\n"):
        raise OutboundError(BAD_URL, "the URL has characters that parsers disagree on")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise OutboundError(BAD_URL, "the URL cannot be parsed") from None
    if parts.scheme not in ("http", "https"):
        raise OutboundError(BAD_URL, "the URL is not an http(s) URL")
    if "@" in parts.netloc:
        raise OutboundError(BAD_URL, "the URL carries userinfo")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise OutboundError(BAD_URL, "the URL has an invalid port") from None
    if not parts.hostname:
        raise OutboundError(BAD_URL, "the URL is not an http(s) URL")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(parts.scheme, parts.hostname, port, target)


# ---------------------------------------------------------------- the deadline


@dataclass
class _Deadline:
    seconds: float
    at: float = field(init=False)

    def __post_init__(self) -> None:
        self.at = time.monotonic() + self.seconds

    def left(self) -> float:
        """Seconds left; TimeoutError once there are none."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left


# ---------------------------------------------------------------- resolve, connect


def _resolve(host: str, port: int, deadline: _Deadline) -> list[str]:
    """The host's addresses, looked up once, within the deadline.

    getaddrinfo has no timeout of its own, so a name is looked up on a thread of its own
    and abandoned (it ends with the system resolver's timeout) when the deadline comes.
    """
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    if not _lookups.acquire(blocking=False):
        raise OutboundError(RESOLVE, f"cannot resolve {host}: too many lookups in progress")
    done = threading.Event()
    found: dict[str, Any] = {}

    def lookup() -> None:
        try:
            found["infos"] = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except (OSError, UnicodeError) as exc:
            found["error"] = exc
        finally:
            _lookups.release()
            done.set()

    threading.Thread(target=lookup, name="outbound-lookup", daemon=True).start()
    if not done.wait(deadline.left()):
        raise TimeoutError
    if "error" in found:
        raise OutboundError(RESOLVE, f"cannot resolve {host}")
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found["infos"]))
    if not addresses:
        raise OutboundError(RESOLVE, f"cannot resolve {host}")
    return addresses


def _connect(
    host: str, port: int, addresses: list[str], deadline: _Deadline, connect_timeout: float | None
) -> tuple[socket.socket, str]:
    error = f"cannot connect to {host}"
    for address in addresses:
        timeout = deadline.left()
        if connect_timeout is not None:
            timeout = min(timeout, connect_timeout)
        try:
            sock = socket.create_connection((address, port), timeout)
        except TimeoutError:
            error = f"connection to {host} timed out"
            continue
        except OSError as exc:
            error = f"cannot connect to {host}: {exc.strerror or type(exc).__name__}"
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address
    raise OutboundError(CONNECT, error)


def _tls(sock: socket.socket, host: str, deadline: _Deadline) -> ssl.SSLSocket:
    global _tls_context
    with _tls_lock:
        if _tls_context is None:
            _tls_context = ssl.create_default_context()
    # The handshake as a whole is bounded by this timeout (CPython keeps one deadline
    # across the handshake's reads and writes).
    sock.settimeout(deadline.left())
    try:
        return _tls_context.wrap_socket(sock, server_hostname=host)
    except ssl.SSLError as exc:
        raise OutboundError(TLS, f"TLS error with {host}: {exc.reason or 'handshake'}") from None


# ---------------------------------------------------------------- the exchange


class _DeadlineSocket:
    """The part of a socket http.client uses (sendall, makefile, close), with the deadline
    applied to every send and receive and a budget of bytes that may still be read."""

    def __init__(self, sock: socket.socket, deadline: _Deadline, host: str) -> None:
        self.sock = sock
        self.deadline = deadline
        self.host = host
        self.budget = HEADER_BYTES_MAX

    def sendall(self, data: Any) -> None:
        view = memoryview(data).cast("B")
        while view:
            self.sock.settimeout(self.deadline.left())
            sent = self.sock.send(view)
            view = view[sent:]

    def recv_into(self, buffer: Any) -> int:
        if self.budget <= 0:
            raise OutboundError(TOO_LARGE, f"the answer of {self.host} is too large")
        self.sock.settimeout(self.deadline.left())
        received = self.sock.recv_into(memoryview(buffer)[: self.budget])
        self.budget -= received
        return received

    def makefile(self, *_args: Any, **_kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_Reader(self))

    def close(self) -> None:
        # http.client closes its connection as soon as it has read the headers of an
        # answer that ends with the connection, and reads the body afterwards (a real
        # socket stays open while its file is): `fetch` closes the socket itself, at the end.
        pass


class _Reader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket) -> None:
        self.sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self.sock.recv_into(buffer)


class _Connection(http.client.HTTPConnection):
    """http.client over a socket connected (and checked) beforehand: the Host header is
    the URL's host, the peer the checked address."""

    def __init__(self, host: str, port: int, sock: _DeadlineSocket) -> None:
        super().__init__(host, port)
        self.sock = sock  # type: ignore[assignment]

    def connect(self) -> None:  # the socket is given; never a second connection
        raise http.client.NotConnected


def _exchange(
    sock: _DeadlineSocket,
    parts: _Target,
    method: str,
    body: bytes | None,
    headers: dict[str, str],
    max_bytes: int,
    truncate: bool,
    address: str,
) -> OutboundResponse:
    conn = _Connection(parts.host, parts.port, sock)
    host = parts.host
    try:
        conn.request(method, parts.target, body=body, headers=headers)
        response = conn.getresponse()
        status = response.status
        if 300 <= status < 400:
            raise OutboundError(
                REDIRECT, f"HTTP {status} (redirects are not followed)", status=status
            )
        sock.budget += max_bytes + FRAMING_BYTES_MAX
        length = response.length
        if length is not None and length > max_bytes and not truncate:
            raise OutboundError(TOO_LARGE, f"the answer of {host} is too large", status=status)
        data = response.read(max_bytes if truncate else max_bytes + 1)
        if len(data) > max_bytes:
            raise OutboundError(TOO_LARGE, f"the answer of {host} is too large", status=status)
        truncated = truncate and len(data) == max_bytes and length != max_bytes
        names = {name.lower(): value for name, value in response.getheaders()}
        return OutboundResponse(status, names, data, address, truncated)
    except TimeoutError:
        raise
    except OutboundError:
        raise
    except ssl.SSLError as exc:
        raise OutboundError(PROTOCOL, f"TLS error with {host}: {exc.reason or 'read'}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise OutboundError(
            PROTOCOL, f"{host} broke the connection ({type(exc).__name__})"
        ) from None
    finally:
        conn.close()


# ---------------------------------------------------------------- the one entry point


def fetch(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    deadline_seconds: float,
    max_bytes: int,
    allow_private: bool,
    connect_timeout_seconds: float | None = None,
    truncate: bool = False,
) -> OutboundResponse:
    """Call `url` once and return its answer (any status but 3xx), or raise OutboundError.

    `deadline_seconds` bounds the whole exchange; `connect_timeout_seconds` (optional) each
    connection attempt, so that a host with several addresses gets to try the next one.
    `max_bytes` caps the body: a larger one is an error, or with `truncate` is cut there
    (when only the first bytes matter, e.g. the error code of a logout endpoint's answer).
    `allow_private`: whether non-public addresses may be called (allow_private_targets).
    """
    parts = _parse(url)
    deadline = _Deadline(deadline_seconds)
    sent = {"User-Agent": USER_AGENT, "Connection": "close", **(headers or {})}
    try:
        addresses = _resolve(parts.host, parts.port, deadline)
        refused = [a for a in addresses if not may_call(a, allow_private=allow_private)]
        if refused:
            why = (
                "which is never called (link-local, multicast, unspecified)"
                if allow_private
                else "and OUTBOUND_ALLOW_PRIVATE_TARGETS is off"
            )
            raise OutboundError(
                FORBIDDEN_ADDRESS, f"{parts.host} is a non-public address ({refused[0]}), {why}"
            )
        raw, address = _connect(
            parts.host, parts.port, addresses, deadline, connect_timeout_seconds
        )
        try:
            if parts.scheme == "https":
                raw = _tls(raw, parts.host, deadline)
            return _exchange(
                _DeadlineSocket(raw, deadline, parts.host),
                parts,
                method,
                body,
                sent,
                max_bytes,
                truncate,
                address,
            )
        finally:
            raw.close()
    except TimeoutError:
        raise OutboundError(
            DEADLINE, f"{parts.host} did not answer within {deadline_seconds:g} s"
        ) from None
