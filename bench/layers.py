"""Each speed-up layer measured alone: the provider as it is against the same provider with
that one layer switched off (bench/variants.py), under the production server command.

For every layer, the scenarios it can affect run with the layer on and off, alternating
(on, off, off, on, ...) so that a drift of the machine touches both alike, and the medians
are printed with the server's CPU time per unit of work: the CPU figure moves less than the
rate when other work shares the machine.

    .venv/bin/python -m bench.layers                       # every layer, 3 rounds, 6 s
    .venv/bin/python -m bench.layers --only jws-signer --rounds 5 --duration 8
    .venv/bin/python -m bench.layers --in-process          # CPU per request, no server

`--in-process` measures the CPU time of one request through the whole WSGI app in a
process of its own for each variant (bench/inprocess.py), fastest of many batches: the
figure other work on the machine disturbs least, for the layers whose gain is CPU time.
The layer whose gain is less waiting (token-response-order) is measured under wrk only.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from bench.run import RESULTS, ROOT, Result, bench_database, serving
from bench.variants import LAYERS
from idp.cli import server_command

# The scenarios each layer can change; the others do not run its code.
SCENARIOS = {
    "jws-signer": ["client_credentials", "refresh", "sso_hop"],
    "static-documents": ["discovery", "jwks"],
    "lazy-session": ["client_credentials", "introspection", "userinfo"],
    "token-response-order": ["refresh", "sso_hop"],
}


@dataclass
class Row:
    layer: str
    scenario: str
    on_rate: float
    off_rate: float
    on_cpu_ms: float
    off_cpu_ms: float
    on_runs: list[float]
    off_runs: list[float]

    @property
    def rate_change(self) -> float:
        """How much faster with the layer on, in percent of the rate with it off."""
        return (self.on_rate / self.off_rate - 1) * 100 if self.off_rate else 0.0

    @property
    def cpu_saved(self) -> float:
        return (1 - self.on_cpu_ms / self.off_cpu_ms) * 100 if self.off_cpu_ms else 0.0


def cpu_ms_per_unit(result: Result) -> float:
    """The server's CPU time per unit of work (its share of all cores, over the rate)."""
    if not result.rate:
        return 0.0
    return result.cpu_server / 100 * (os.cpu_count() or 1) / result.rate * 1000


def run_variant(layer: str | None, scenarios: list[str], args) -> list[Result]:
    target = "bench.variant_app:app"
    command = server_command("granian", "127.0.0.1", 0, args.workers, target=target)
    # bench_database fills in {port} and {workers} and runs `python -m <command>`.
    rest = command[2:]
    rest[rest.index("--port") + 1] = "{port}"
    rest[rest.index("--workers") + 1] = "{workers}"
    options = argparse.Namespace(
        connections=args.connections,
        threads=args.threads,
        duration=args.duration,
        workers=args.workers,
        server="granian",
        server_command=shlex.join(rest),
        env=[f"IDP_BENCH_OFF={layer or ''}", *args.env],
        id_token_alg=None,
    )
    return bench_database(args.db, scenarios, options)


def measure_layer(layer: str, args) -> list[Row]:
    scenarios = SCENARIOS[layer]
    runs: dict[tuple[str, bool], list[Result]] = {}
    for round_ in range(args.rounds):
        order = [True, False] if round_ % 2 == 0 else [False, True]
        for on in order:
            print(f"-- {layer} {'on' if on else 'off'} (round {round_ + 1}/{args.rounds})")
            for result in run_variant(None if on else layer, scenarios, args):
                runs.setdefault((result.scenario, on), []).append(result)
    rows = []
    for scenario in scenarios:
        on_runs, off_runs = runs[(scenario, True)], runs[(scenario, False)]
        rows.append(
            Row(
                layer,
                scenario,
                statistics.median(r.rate for r in on_runs),
                statistics.median(r.rate for r in off_runs),
                statistics.median(cpu_ms_per_unit(r) for r in on_runs),
                statistics.median(cpu_ms_per_unit(r) for r in off_runs),
                [r.rate for r in on_runs],
                [r.rate for r in off_runs],
            )
        )
    return rows


# In process: the requests each CPU-bound layer can change (bench/inprocess.py).
IN_PROCESS = {
    "jws-signer": ["client_credentials"],
    "static-documents": ["discovery", "jwks"],
    "lazy-session": ["client_credentials", "introspection", "userinfo"],
}


def in_process(layers: list[str], args) -> list[tuple[str, str, float, float]]:
    """(layer, scenario, µs per request on, off) for each layer, against one server's
    database and fixtures."""
    chosen = [layer for layer in layers if layer in IN_PROCESS]
    scenarios = sorted({s for layer in chosen for s in IN_PROCESS[layer]})
    options = argparse.Namespace(
        connections=4,
        threads=1,
        duration=1,
        workers=1,
        server="granian",
        server_command=None,
        env=list(args.env),
        id_token_alg=None,
    )
    rows = []
    with serving(args.db, ["introspection", *scenarios], options) as (fixtures, _meter):
        described = json.dumps(
            {
                "base": fixtures.base,
                "jwks_path": fixtures.path("jwks_uri"),
                "token_path": fixtures.path("token_endpoint"),
                "introspection_path": fixtures.path("introspection_endpoint"),
                "userinfo_path": fixtures.path("userinfo_endpoint"),
                "machine_basic": fixtures.machine_basic,
                "access_token": fixtures.access_token,
            }
        )
        for layer in chosen:
            runs: dict[bool, list[dict[str, float]]] = {True: [], False: []}
            for round_ in range(args.rounds):
                for on in [True, False] if round_ % 2 == 0 else [False, True]:
                    runs[on].append(_child(described, IN_PROCESS[layer], layer, on, fixtures.env))
            for scenario in IN_PROCESS[layer]:
                on_us = min(run[scenario] for run in runs[True])
                off_us = min(run[scenario] for run in runs[False])
                rows.append((layer, scenario, on_us, off_us))
                print(f"{layer:22} {scenario:20} on {on_us:8.1f} µs  off {off_us:8.1f} µs")
    return rows


def _child(described: str, scenarios: list[str], layer: str, on: bool, env: dict) -> dict:
    command = [sys.executable, "-m", "bench.inprocess", "--fixtures", described]
    command += ["--scenarios", ",".join(scenarios)]
    child_env = {**env, "IDP_BENCH_OFF": "" if on else layer}
    done = subprocess.run(command, env=child_env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"bench.inprocess ({layer} {'on' if on else 'off'}):\n{done.stderr}")
    return json.loads(done.stdout)


def print_in_process(rows: list[tuple[str, str, float, float]], args) -> None:
    print()
    print(f"{args.db}, in process, CPU µs per request, fastest batch of {args.rounds} runs each")
    print("| layer | scenario | on µs | off µs | saved µs | saved % |")
    print("|---|---|---:|---:|---:|---:|")
    for layer, scenario, on_us, off_us in rows:
        print(
            f"| {layer} | {scenario} | {on_us:.1f} | {off_us:.1f} | {off_us - on_us:.1f}"
            f" | {(1 - on_us / off_us) * 100:+.1f} % |"
        )


def print_rows(rows: list[Row], args) -> None:
    print()
    print(
        f"{args.db}, idp serve's granian command (2 workers), wrk -t{args.threads}"
        f" -c{args.connections} -d{args.duration}s, {args.rounds} rounds each, medians"
    )
    print(
        "| layer | scenario | on /s | off /s | on vs off | CPU ms/unit on | off | CPU saved"
        " | runs on / off |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        runs = " ".join(f"{x:,.0f}" for x in r.on_runs) + " / "
        runs += " ".join(f"{x:,.0f}" for x in r.off_runs)
        print(
            f"| {r.layer} | {r.scenario} | {r.on_rate:,.0f} | {r.off_rate:,.0f}"
            f" | {r.rate_change:+.1f} % | {r.on_cpu_ms:.2f} | {r.off_cpu_ms:.2f}"
            f" | {r.cpu_saved:+.1f} % | {runs} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default=",".join(SCENARIOS), help="layers, comma-separated")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=6, help="seconds per scenario and run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--env", action="append", default=[], metavar="IDP_KEY=VALUE")
    parser.add_argument("--in-process", action="store_true", help="CPU per request, no server")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(LAYERS)
    if unknown:
        parser.error(f"unknown layers: {', '.join(sorted(unknown))}; known: {', '.join(LAYERS)}")
    if args.in_process:
        figures = in_process(chosen, args)
        print_in_process(figures, args)
        _save("in-process", {"args": vars(args), "rows": figures})
        return 0
    rows: list[Row] = []
    for layer in chosen:
        rows += measure_layer(layer, args)
        print_rows(rows, args)
    _save("layers", {"args": vars(args), "rows": [asdict(r) for r in rows]})
    return 0


def _save(kind: str, document: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"{stamp}-{kind}.json").write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    raise SystemExit(main())
