"""A relying party's back-channel logout endpoint: a real HTTP server on 127.0.0.1.

It records every POST (path, content type, the `logout_token`), answers with the status
it is told to (200 by default; 400 with a JSON error like a relying party that rejects a
token), and can be stopped and started again on the same port to play a relying party
that is down for a while.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from helpers.live import free_port


@dataclass
class Received:
    path: str
    content_type: str
    form: dict[str, list[str]]
    at: float

    @property
    def logout_token(self) -> str:
        return self.form["logout_token"][0]


class LogoutReceiver:
    def __init__(self, port: int | None = None, *, start: bool = True) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self.status = 200
        self.delay = 0.0
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.server: http.server.ThreadingHTTPServer | None = None
        if start:
            self.start()

    def url(self, path: str = "/backchannel-logout") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                if outer.delay:
                    time.sleep(outer.delay)
                with outer.arrived:
                    outer.received.append(
                        Received(
                            self.path,
                            self.headers.get("Content-Type", ""),
                            parse_qs(body),
                            time.perf_counter(),
                        )
                    )
                    outer.arrived.notify_all()
                status = outer.status
                answer = b""
                if status == 400:
                    answer = json.dumps({"error": "invalid_request"}).encode()
                self.send_response(status)
                self.send_header("Cache-Control", "no-store")
                if answer:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The requests once `count` have arrived (or what came before the timeout)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout=timeout)
            return list(self.received)

    def tokens(self) -> list[str]:
        with self.lock:
            return [r.logout_token for r in self.received]
