"""Rate-limit counters for the tests: in memory, or in the Redis server on 127.0.0.1:6379
(skipped when it is not running, except with CI=true, where it fails), each test under a
key prefix of its own so that parallel runs never share a counter."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from helpers.ci import unavailable
from idp.limits import LIMIT_SETTINGS

REDIS_URL = os.environ.get("IDP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_client():
    import redis

    return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)


def require_redis() -> None:
    import redis

    try:
        redis_client().ping()
    except redis.RedisError as exc:
        unavailable(f"Redis not reachable at {REDIS_URL} ({type(exc).__name__})")


def redis_keys(prefix: str) -> list[str]:
    """The counters stored under one test's prefix."""
    return [k.decode() for k in redis_client().scan_iter(match=f"*/{prefix}/*", count=1000)]


@contextmanager
def limit_storage(kind: str) -> Iterator[dict]:
    """The settings for counters in `kind` ("memory" or "redis"), with a fresh key prefix;
    the test's Redis keys are deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    if kind == "memory":
        yield {"RATE_LIMIT_KEY_PREFIX": prefix, "REDIS_URL": ""}
        return
    require_redis()
    try:
        yield {"RATE_LIMIT_KEY_PREFIX": prefix, "REDIS_URL": REDIS_URL}
    finally:
        keys = redis_keys(prefix)
        if keys:
            redis_client().delete(*keys)


class RedisThatGoesAway:
    """A TCP relay on 127.0.0.1 in front of the test Redis: `stop()` closes every
    connection and the port, as when the Redis server goes away."""

    def __init__(self) -> None:
        import threading
        from urllib.parse import urlsplit

        target = urlsplit(REDIS_URL)
        self.target = (target.hostname or "127.0.0.1", target.port or 6379)
        self.db = target.path or "/0"
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}{self.db}"

    def _accept(self) -> None:
        import threading

        while True:
            try:
                inner, _ = self.listener.accept()
            except OSError:
                return
            outer = socket.create_connection(self.target, timeout=2)
            with self.lock:
                self.sockets += [inner, outer]
            for a, b in ((inner, outer), (outer, inner)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        with suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


# The rate limits out of reach, for tests that attack something else from loopback, where
# the attacker, its hundreds of requests and the bystanders it must not slow down all share
# one client address (the rate limits are tested in tests/test_limits.py and
# tests/security/test_rate_limit_attacks.py).
UNLIMITED = {key: "100000000 per minute" for key in LIMIT_SETTINGS}
