"""In-process timing and profiling of the benchmark scenarios, without a server or network.

Builds the WSGI app on a fresh SQLite (or PostgreSQL) database, prepares a user, clients and
tokens through the app itself, then calls `app(environ, start_response)` in a loop for each
scenario and prints microseconds per request (one process, one thread: the cost of the
application alone). With --profile, prints the top functions of a cProfile run.

    python -m bench.profile                               # every scenario, SQLite
    python -m bench.profile --only refresh --profile 25   # top 25 functions of refresh
    python -m bench.profile --db postgres --count 2000
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from werkzeug.test import EnvironBuilder

from bench.prepare import (
    EMAIL,
    PASSWORD,
    REDIRECT,
    UNLIMITED,
    VERIFIER,
    Fixtures,
    _basic,
    _register,
)

ROOT = Path(__file__).resolve().parent.parent
ISSUER = "http://127.0.0.1:5000"
SCENARIOS = [
    "healthz",
    "discovery",
    "jwks",
    "client_credentials",
    "introspection",
    "userinfo",
    "refresh",
    "sso_hop",
    "signin",
]


def _call(app, environ: dict) -> tuple[str, dict[str, str], bytes]:
    captured: dict = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = status
        captured["headers"] = headers

    body = b"".join(app(environ, start_response))
    return captured["status"], dict(captured["headers"]), body


def _environ(method: str, path: str, **kw) -> dict:
    builder = EnvironBuilder(method=method, path=path, base_url=ISSUER, **kw)
    try:
        return builder.get_environ()
    finally:
        builder.close()


def _fresh(environ: dict) -> dict:
    """A copy whose input stream can be read again."""
    copy = dict(environ)
    stream = environ.get("wsgi.input")
    if stream is not None and hasattr(stream, "getvalue"):
        copy["wsgi.input"] = io.BytesIO(stream.getvalue())
    return copy


class Bench:
    def __init__(self, url: str) -> None:
        from idp import create_app

        env = {
            "IDP_DATABASE_URL": url,
            "IDP_ISSUER": ISSUER,
            "IDP_SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
        }
        web_secret, machine_secret = _register(env)
        self.app = create_app(
            {
                "DATABASE_URL": url,
                "ISSUER": ISSUER,
                "SECRET_KEY": env["IDP_SECRET_KEY"],
                "LOG_LEVEL": "WARNING",
                "LOGIN_THROTTLE_FREE_ATTEMPTS": 1000000,
                **UNLIMITED,
            }
        )
        self.web_basic = _basic("bench-web", web_secret)
        self.machine_basic = _basic("bench-machine", machine_secret)
        self.fx = Fixtures(
            base=ISSUER,
            config={"authorization_endpoint": ISSUER + "/oauth2/authorize"},
            web_basic=self.web_basic,
            machine_basic=self.machine_basic,
            cookie="",
            access_token="",
            tokens_file=Path("/dev/null"),
            workdir=Path("/tmp"),
        )
        self.cookie = self._sign_in()
        self.tokens = self._code_flow()

    # ---- fixtures through the app itself
    def _sign_in(self) -> str:
        status, headers, body = _call(self.app, _environ("GET", "/login"))
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', body).group(1)
        ui = re.search(r"(idp_ui=[^;]+)", headers["Set-Cookie"]).group(1)
        status, headers, body = _call(
            self.app,
            _environ(
                "POST",
                "/login",
                headers={"Cookie": ui},
                data={"csrf_token": token.decode(), "email": EMAIL, "password": PASSWORD},
            ),
        )
        assert status.startswith("302"), status
        return re.search(r"(idp_sso=[^;]+)", headers["Set-Cookie"]).group(1)

    def _authorize(self) -> dict:
        return _environ(
            "GET", self.fx.authorize_path().split("?")[0], query_string=self._authorize_query()
        )

    def _authorize_query(self) -> str:
        return self.fx.authorize_path().split("?", 1)[1]

    def _code_flow(self) -> dict:
        import json

        environ = self._authorize()
        environ["HTTP_COOKIE"] = self.cookie
        status, headers, _ = _call(self.app, environ)
        code = parse_qs(urlsplit(headers["Location"]).query)["code"][0]
        status, headers, body = _call(self.app, self._exchange(code))
        assert status.startswith("200"), body
        return json.loads(body)

    def _exchange(self, code: str) -> dict:
        return _environ(
            "POST",
            "/oauth2/token",
            headers={"Authorization": self.web_basic},
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "code_verifier": VERIFIER,
            },
        )

    # ---- scenarios: each yields environ factories; the factory's cost is not timed
    def scenario(self, name: str) -> Callable[[], Iterator[tuple[dict, str]]]:
        """A generator of (environ, expected status prefix) for one scenario."""
        if name in ("healthz", "discovery", "jwks"):
            path = {
                "healthz": "/healthz",
                "discovery": "/.well-known/openid-configuration",
                "jwks": "/jwks",
            }[name]
            base = _environ("GET", path)
            return lambda: iter(lambda: (dict(base), "200"), None)
        if name == "client_credentials":
            base = _environ(
                "POST",
                "/oauth2/token",
                headers={"Authorization": self.machine_basic},
                data={"grant_type": "client_credentials"},
            )
            return lambda: iter(lambda: (_fresh(base), "200"), None)
        if name == "introspection":
            base = _environ(
                "POST",
                "/oauth2/introspect",
                headers={"Authorization": self.machine_basic},
                data={"token": self.tokens["access_token"], "token_type_hint": "access_token"},
            )
            return lambda: iter(lambda: (_fresh(base), "200"), None)
        if name == "userinfo":
            base = _environ(
                "GET",
                "/oauth2/userinfo",
                headers={"Authorization": "Bearer " + self.tokens["access_token"]},
            )
            return lambda: iter(lambda: (dict(base), "200"), None)
        if name == "refresh":
            return self._refresh_chain
        if name == "sso_hop":
            return self._sso_hops
        if name == "signin":
            return self._sign_ins
        raise KeyError(name)

    def _refresh_chain(self) -> Iterator[tuple[dict, str]]:
        import json

        token = self._code_flow()["refresh_token"]
        while True:
            environ = _environ(
                "POST",
                "/oauth2/token",
                headers={"Authorization": self.web_basic},
                data={"grant_type": "refresh_token", "refresh_token": token},
            )
            holder: dict = {}
            environ["bench.result"] = holder
            yield environ, "200"
            token = json.loads(holder["body"])["refresh_token"]

    def _sso_hops(self) -> Iterator[tuple[dict, str]]:
        while True:
            environ = self._authorize()
            environ["HTTP_COOKIE"] = self.cookie
            holder: dict = {}
            environ["bench.result"] = holder
            yield environ, "302"
            code = parse_qs(urlsplit(holder["headers"]["Location"]).query)["code"][0]
            yield self._exchange(code), "200"

    def _sign_ins(self) -> Iterator[tuple[dict, str]]:
        while True:
            environ = _environ("GET", "/login")
            holder: dict = {}
            environ["bench.result"] = holder
            yield environ, "200"
            token = re.search(
                rb'name="csrf_token" type="hidden" value="([^"]+)"', holder["body"]
            ).group(1)
            ui = re.search(r"(idp_ui=[^;]+)", holder["headers"]["Set-Cookie"]).group(1)
            yield (
                _environ(
                    "POST",
                    "/login",
                    headers={"Cookie": ui},
                    data={"csrf_token": token.decode(), "email": EMAIL, "password": PASSWORD},
                ),
                "302",
            )

    def run(self, name: str, count: int, profiler: cProfile.Profile | None) -> tuple[float, float]:
        """Mean (wall, CPU) microseconds per request over `count` requests, after a warm-up.

        CPU time (this thread's) leaves out time spent waiting: for other processes on a
        busy machine, and for the disk.
        """
        source = self.scenario(name)()
        app = self.app
        for _ in range(min(50, count)):
            self._one(app, *next(source), None)
        wall = cpu = 0.0
        self.steps: dict[str, list[float]] = {}
        for _ in range(count):
            environ, expected = next(source)
            step = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}"
            took, took_cpu = self._one(app, environ, expected, profiler)
            wall += took
            cpu += took_cpu
            self.steps.setdefault(step, []).append(took_cpu)
        return wall / count * 1e6, cpu / count * 1e6

    @staticmethod
    def _one(app, environ: dict, expected: str | None, profiler) -> float:
        holder = environ.pop("bench.result", None)
        captured: dict = {}

        def start_response(status, headers, exc_info=None):
            captured["status"] = status
            captured["headers"] = headers

        if profiler is not None:
            profiler.enable()
        started, started_cpu = time.perf_counter(), time.thread_time()
        result = app(environ, start_response)
        body = b"".join(result)
        if hasattr(result, "close"):
            result.close()
        took, took_cpu = time.perf_counter() - started, time.thread_time() - started_cpu
        if profiler is not None:
            profiler.disable()
        status = captured["status"]
        if expected and not status.startswith(expected):
            raise SystemExit(f"unexpected {status}: {body[:300]!r}")
        if holder is not None:
            holder.update(status=status, headers=dict(captured["headers"]), body=body)
        return took, took_cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--only", default=",".join(SCENARIOS))
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions")
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumtime)")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    os.environ.setdefault("IDP_LOG_LEVEL", "WARNING")

    from bench.run import drop_database, make_database

    workdir = Path(tempfile.mkdtemp(prefix="idp-profile-"))
    url = make_database(args.db, workdir)
    try:
        import subprocess

        subprocess.run(
            [sys.executable, "-m", "idp.cli", "db", "upgrade"],
            env={**os.environ, "IDP_DATABASE_URL": url, "IDP_ISSUER": ISSUER},
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        bench = Bench(url)
        for name in chosen:
            count = max(20, args.count // 100) if name == "signin" else args.count
            profiler = cProfile.Profile() if args.profile else None
            wall, cpu = bench.run(name, count, profiler)
            print(
                f"{name:20} {wall:9.1f} us wall {cpu:9.1f} us CPU per request"
                f"  ({1e6 / cpu:8.0f}/s per core)",
                flush=True,
            )
            if len(bench.steps) > 1:
                for step, times in bench.steps.items():
                    print(f"    {step:40} {sum(times) / len(times) * 1e6:9.1f} us CPU")
            if profiler is not None:
                stream = io.StringIO()
                pstats.Stats(profiler, stream=stream).sort_stats(args.sort).print_stats(
                    args.profile
                )
                print(stream.getvalue())
        with bench.app.app_context():
            from idp.extensions import db

            db.engine.dispose()
    finally:
        drop_database(args.db, url)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
