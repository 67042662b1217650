"""Peers the provider calls out to, well-behaved and hostile: real servers on 127.0.0.1.

`Peer` is a raw TCP server in a thread: it reads each request's head and body, records it,
and answers with the behaviour it was given (`jwks`, `redirect`, `trickle`, `huge_body`,
`huge_headers`, `status`). `PooledServer` serves the provider itself the way `idp serve`
does by default (two workers of one blocking thread each): a fixed number of request
threads, so a request that waits holds one of them.
"""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

from helpers.clients import insert_client

# The provider may call 127.0.0.1, where these peers (and the tests' relying parties) live.
LOOPBACK = {"OUTBOUND_ALLOW_PRIVATE_TARGETS": True}
ISSUER = "http://idp.test"
TOKEN_ENDPOINT = ISSUER + "/oauth2/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SECRET = "s3cret-" + "y" * 40


@dataclass
class Hit:
    method: str
    path: str
    body: bytes
    at: float


Behaviour = Callable[[socket.socket, Hit], None]


class Peer:
    """A TCP server on 127.0.0.1 answering every request with `behaviour(conn, hit)`."""

    def __init__(self, behaviour: Behaviour, tls: ssl.SSLContext | None = None) -> None:
        self.behaviour = behaviour
        self.tls = tls
        self.hits: list[Hit] = []
        self.connections = 0
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def url(self, path: str = "/jwks.json") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _version = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            while len(body) < length:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                body += chunk
            hit = Hit(method, path, body, time.monotonic())
            with self.lock:
                self.hits.append(hit)
            self.behaviour(conn, hit)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopping.set()
        self.listener.close()


def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Behaviour:
    def behave(conn: socket.socket, _hit: Hit) -> None:
        lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    return behave


def jwks(keys: list[RSAKey]) -> Behaviour:
    document = {"keys": [k.as_dict(private=False) | {"use": "sig", "alg": "RS256"} for k in keys]}
    return answer(200, json.dumps(document).encode(), {"Content-Type": "application/json"})


def redirect(location: str) -> Behaviour:
    return answer(302, b"", {"Location": location})


def trickle(stop: threading.Event, every: float = 0.5, seconds: float = 30.0) -> Behaviour:
    """A valid-looking answer sent one byte every `every` seconds, for up to `seconds`."""
    payload = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"keys": [' + b" " * 10_000

    def behave(conn: socket.socket, _hit: Hit) -> None:
        until = time.monotonic() + seconds
        for byte in payload:
            if stop.is_set() or time.monotonic() > until:
                return
            conn.sendall(bytes([byte]))
            stop.wait(every)

    return behave


def trickle_body(stop: threading.Event, status: int = 200, every: float = 0.5) -> Behaviour:
    """The status line and headers at once, then the body one byte every `every` seconds:
    a relying party whose answer looks like a success and never quite ends."""
    body = b'{"status": "ok", "padding": "' + b"." * 60 + b'"}'

    def behave(conn: socket.socket, _hit: Hit) -> None:
        conn.sendall(
            f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        for byte in body:
            if stop.is_set():
                return
            conn.sendall(bytes([byte]))
            stop.wait(every)

    return behave


def huge_body(size: int, *, declared: bool = True) -> Behaviour:
    """A JSON-looking body of `size` bytes, sent as fast as the reader takes it."""

    def behave(conn: socket.socket, _hit: Hit) -> None:
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        if declared:
            head += f"Content-Length: {size}\r\n"
        conn.sendall(head.encode() + b"\r\n" + b'{"keys": [')
        block = b" " * 65536
        sent = 0
        while sent < size:
            conn.sendall(block)
            sent += len(block)

    return behave


def huge_headers(count: int = 60, size: int = 4000) -> Behaviour:
    def behave(conn: socket.socket, _hit: Hit) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for i in range(count):
            conn.sendall(f"X-Filler-{i}: {'a' * size}\r\n".encode())
        conn.sendall(b"Content-Length: 2\r\n\r\n{}")

    return behave


def tls_certificates(directory, host: str = "localhost") -> tuple[str, ssl.SSLContext]:
    """A certificate authority (its PEM file) and a server context whose certificate it
    signed for `host` only (no IP address in it)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = directory / "server.pem"
    chain.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(chain)
    return str(ca_file), server


# ---------------------------------------------------------------- clients and assertions


def add_client(app, client_id: str, **metadata: Any) -> None:
    """A client straight in the database: private_key_jwt with `metadata`, or a secret."""
    method = metadata.pop("token_endpoint_auth_method", "private_key_jwt")
    insert_client(
        app,
        client_id,
        {
            "client_name": client_id,
            "redirect_uris": [],
            "grant_types": ["client_credentials"],
            "response_types": [],
            "token_endpoint_auth_method": method,
            "scope": "lgsp.read",
            **metadata,
        },
        secret=SECRET if method != "private_key_jwt" else None,
    )


def assertion(key: RSAKey, client_id: str, kid: str | None = None) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_ENDPOINT,
        "jti": secrets.token_urlsafe(12),
        "iat": now,
        "exp": now + 60,
    }
    return jwt.encode({"alg": "RS256", "kid": kid or key.kid}, claims, key)


def assertion_form(key: RSAKey, client_id: str, kid: str | None = None) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(key, client_id, kid),
    }


def new_key(kid: str = "rp-1") -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid})


# ---------------------------------------------------------------- the provider, served


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class PooledServer(BaseWSGIServer):
    """The provider on 127.0.0.1 with `threads` request threads and no more, like
    `idp serve --workers 2` (granian, one blocking thread per worker)."""

    def __init__(self, app, threads: int = 2) -> None:
        super().__init__("127.0.0.1", 0, app, handler=_QuietHandler)
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="idp-request")
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def process_request(self, request, client_address) -> None:
        self.pool.submit(self._handle, request, client_address)

    def _handle(self, request, client_address) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.pool.shutdown(wait=False, cancel_futures=True)


def time_bystanders(base_url: str, rounds: int = 5) -> tuple[list[float], list[float]]:
    """Seconds the sign-in page and LGSP's client_credentials token request take, `rounds`
    times half a second apart, while an attack runs: what everyone else waits."""
    import requests

    page_times, token_times = [], []
    with requests.Session() as http:
        for _ in range(rounds):
            started = time.monotonic()
            page = http.get(base_url + "/login", timeout=10)
            page_times.append(time.monotonic() - started)
            assert page.status_code == 200
            started = time.monotonic()
            token = http.post(
                base_url + "/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=("lgsp", SECRET),
                timeout=10,
            )
            token_times.append(time.monotonic() - started)
            assert token.status_code == 200, token.text
            time.sleep(0.5)
    return page_times, token_times


def under_attack(
    attack: Callable[[Any], None],
    base_url: str,
    stopping: threading.Event,
    *,
    attackers: int = 4,
    seconds: float = 6,
) -> tuple[list[float], list[float], list[float]]:
    """`attack(http)` run over and over by `attackers` threads (a requests session each) for
    `seconds`, while time_bystanders measures what everyone else waits. The bystanders' page
    and token times, and how long each attack took; an attacker's exception is raised."""
    import requests

    attack_times: list[float] = []
    errors: list[BaseException] = []
    until = time.monotonic() + seconds

    def attacker() -> None:
        with requests.Session() as http:
            while time.monotonic() < until and not stopping.is_set():
                started = time.monotonic()
                try:
                    attack(http)
                except BaseException as exc:  # raised by the main thread
                    errors.append(exc)
                    return
                attack_times.append(time.monotonic() - started)

    threads = [threading.Thread(target=attacker, daemon=True) for _ in range(attackers)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # the attack is under way
    page_times, token_times = time_bystanders(base_url)
    for thread in threads:
        thread.join(20)
    if errors:
        raise errors[0]
    return page_times, token_times, attack_times


class SilentListener:
    """A TCP port on 127.0.0.1 that accepts connections (the kernel completes the handshake
    from the backlog) and never answers a byte: a server that hangs, for LDAP or anything."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.port = self.listener.getsockname()[1]

    def close(self) -> None:
        self.listener.close()
