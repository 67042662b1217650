"""The benchmark scenarios of bench/run.py against a peer OpenID provider on this machine.

Absolute figures depend on the machine; a peer measured on the same machine, with the same
load generator (wrk and the Lua scripts of bench/lua) and the same scenarios, is the
yardstick for ours (docs/performance.md).

    python -m bench.peer --peer node-oidc-provider --duration 10
    python -m bench.peer --peer node-oidc-provider --only refresh,sso_hop --duration 5

node-oidc-provider (npm package `oidc-provider`) runs as one Node.js process with
everything in its in-memory adapter (bench/peers/node_oidc_provider/server.mjs); its
packages are installed with npm into bench/peers/node_oidc_provider/node_modules on the
first run. Needs wrk, Node.js and npm.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from bench.cpu import CpuMeter
from bench.prepare import EMAIL, PASSWORD, Fixtures, _basic, _code_flow
from bench.run import (
    RESULTS,
    ROOT,
    SCENARIOS,
    free_port,
    measure,
    print_rows,
    stop_process,
    wait_ready,
)

PEER_DIR = ROOT / "bench" / "peers" / "node_oidc_provider"
# The scenarios of bench/run.py, and the peer's default opaque client_credentials token
# beside the ES256 JWT one that matches ours.
PEER_SCENARIOS = [*SCENARIOS[:3], "client_credentials_opaque", *SCENARIOS[3:]]


class PeerFixtures(Fixtures):
    def scenario(self, name: str) -> tuple[str, str, dict[str, str]]:
        if name == "client_credentials_opaque":
            return (
                "cc.lua",
                "/",
                {
                    "BENCH_BASIC": self.extra["opaque_basic"],
                    "BENCH_PATH": self.path("token_endpoint"),
                },
            )
        if name == "signin":
            # The sign-in page belongs to an authorization request there.
            return (
                "signin_interaction.lua",
                "/",
                {
                    "BENCH_AUTHORIZE": self.authorize_path(),
                    "BENCH_EMAIL": EMAIL,
                    "BENCH_PASSWORD": PASSWORD,
                },
            )
        return super().scenario(name)


def install() -> None:
    """npm ci into the peer's directory (gitignored) unless its packages are there already."""
    installed = PEER_DIR / "node_modules" / ".package-lock.json"
    lock = PEER_DIR / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    print("installing node-oidc-provider with npm ...", file=sys.stderr, flush=True)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER_DIR, check=True)


def sign_in(http: requests.Session, fx: Fixtures) -> str:
    """A completed sign-in through the peer's interaction; returns the session cookie."""
    start = http.get(fx.base + fx.authorize_path(), allow_redirects=False)
    if start.status_code not in (302, 303):
        raise SystemExit(f"authorization request answered {start.status_code}: {start.text[:200]}")
    page = http.get(urljoin(fx.base, start.headers["Location"]))
    action = re.search(r'action="([^"]+)"', page.text)
    if page.status_code != 200 or not action:
        raise SystemExit(f"sign-in page answered {page.status_code}: {page.text[:200]}")
    done = http.post(
        urljoin(fx.base, action.group(1)),
        data={"email": EMAIL, "password": PASSWORD},
        allow_redirects=False,
    )
    if done.status_code not in (302, 303):
        raise SystemExit(f"sign-in answered {done.status_code}: {done.text[:200]}")
    resumed = http.get(urljoin(fx.base, done.headers["Location"]), allow_redirects=False)
    location = resumed.headers.get("Location", "")
    if not parse_qs(urlsplit(location).query).get("code"):
        raise SystemExit(f"resumed authorization gave no code: {resumed.status_code} {location}")
    cookies = [f"{c.name}={c.value}" for c in http.cookies if c.name.startswith("_session")]
    if not cookies:
        raise SystemExit("no session cookie after the sign-in")
    return "; ".join(cookies)


def prepare_scenario(fx: PeerFixtures, scenario: str, tokens_needed: int) -> None:
    """Fresh fixtures right before the scenario that uses them: the peer's memory adapter
    keeps its latest 1,000-2,000 entries only, so tokens made before an earlier scenario
    (e.g. thousands of stored client_credentials tokens) would be gone."""
    if scenario not in {"refresh", "introspection", "userinfo", "sso_hop"}:
        return
    http = requests.Session()
    fx.cookie = sign_in(http, fx)
    if scenario == "sso_hop":
        return
    count = tokens_needed if scenario == "refresh" else 1
    refresh_tokens = []
    for _ in range(count):
        tokens = _code_flow(http, fx)
        refresh_tokens.append(tokens["refresh_token"])
        fx.access_token = tokens["access_token"]
    fx.tokens_file.write_text("\n".join(refresh_tokens) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--peer", choices=["node-oidc-provider"], default="node-oidc-provider")
    parser.add_argument("--only", default=",".join(PEER_SCENARIOS))
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    for tool in ("wrk", "node", "npm"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(PEER_SCENARIOS)
    if unknown:
        print(f"unknown scenarios: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    install()
    # Stopped with SIGTERM, still stop the peer (the finally of bench_peer).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = bench_peer(chosen, args)
    version = json.loads((PEER_DIR / "node_modules" / "oidc-provider" / "package.json").read_text())
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    print_rows(
        results,
        f"node-oidc-provider {version['version']} on Node.js {node}, one process, in memory;"
        f" wrk -t{args.threads} -c{args.connections} -d{args.duration}s;"
        f" {os.cpu_count()} cores",
    )
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"{stamp}-{args.peer}.json").write_text(
        json.dumps(
            {
                "args": vars(args),
                "peer": {"oidc-provider": version["version"], "node": node},
                "results": [asdict(r) for r in results],
            },
            indent=2,
        )
    )
    return 0


def bench_peer(chosen: list[str], args) -> list:
    workdir = Path(tempfile.mkdtemp(prefix="idp-bench-peer-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web_secret, machine_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    env = {
        **os.environ,
        "NODE_ENV": "production",
        "PEER_PORT": str(port),
        "PEER_WEB_SECRET": web_secret,
        "PEER_MACHINE_SECRET": machine_secret,
        "PEER_EMAIL": EMAIL,
        "PEER_PASSWORD": PASSWORD,
    }
    server_log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen(
        ["node", "server.mjs"],
        env=env,
        cwd=PEER_DIR,
        stdout=subprocess.DEVNULL,
        # A file, not a pipe nobody reads: a full pipe would stall the server.
        stderr=server_log,
    )
    results = []
    try:
        wait_ready(base, proc, path="/.well-known/openid-configuration")
        config = requests.get(base + "/.well-known/openid-configuration", timeout=10).json()
        fx = PeerFixtures(
            base=base,
            config=config,
            web_basic=_basic("bench-web", web_secret),
            machine_basic=_basic("bench-machine", machine_secret),
            cookie="",
            access_token="",
            tokens_file=workdir / "refresh.txt",
            workdir=workdir,
            extra={"opaque_basic": _basic("bench-machine-opaque", machine_secret)},
        )
        meter = CpuMeter(proc.pid)
        for scenario in chosen:
            prepare_scenario(fx, scenario, args.connections * 4)
            script, target, extra = fx.scenario(scenario)
            results.append(measure(scenario, "memory", script, base + target, extra, args, meter))
    finally:
        stop_process(proc)
        server_log.close()
        lines = (workdir / "server.log").read_text(errors="replace").splitlines()
        # The package's start-up notices about its development adapter and defaults are
        # expected; anything else is shown.
        unexpected = [x for x in lines if x.strip() and not x.startswith("oidc-provider ")]
        if unexpected:
            print("peer log, last lines:\n" + "\n".join(unexpected[-20:]), file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)
    return results


if __name__ == "__main__":
    raise SystemExit(main())
