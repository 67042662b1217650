"""How fast is this machine? The reference costs that the performance targets were set with.

The targets of docs/performance.md were written for a machine on which a bare Flask JSON
endpoint serves about 24,000 requests/s under granian (7,000 under gunicorn's sync workers),
with 2 workers on 2 cores, an RS256 signature costs about 200 µs, an ES256 one about 16 µs
and the argon2id hash of a sign-in about 16 ms. This measures the same things here:

- a bare Flask app answering `{"ok": true}`, served by exactly the command of `idp serve`
  (idp.cli.server_command) and driven by wrk like the scenarios of bench.run;
- one RS256 and one ES256 signature (the `cryptography` keys the provider signs with);
- one argon2id verification at the provider's default parameters (idp/defaults.toml).

    python -m bench.calibrate --duration 10

The ratios printed say how much slower (above 1) or faster this machine is for each kind of
work; docs/performance.md uses them to read figures measured here against the targets.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime

from flask import Flask, jsonify

from bench.run import RESULTS, ROOT, free_port, run_wrk, stop_process, wait_ready

# The reference machine's figures, as the performance targets state them.
REFERENCE = {
    "flask_granian": 24_000.0,  # requests/s
    "flask_gunicorn": 7_000.0,  # requests/s
    "rs256_us": 200.0,
    "es256_us": 16.0,
    "argon2id_ms": 16.0,
}

app = Flask(__name__)


@app.get("/")
def hello():
    return jsonify(ok=True)


def serve_and_measure(server: str, workers: int, duration: int, connections: int) -> float:
    from idp.cli import server_command

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # The reference figure is a bare app's: without the access log `idp serve` asks of gunicorn.
    command = server_command(
        server, "127.0.0.1", port, workers, target="bench.calibrate:app", access_log=False
    )
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(base, proc, path="/")
        figures = run_wrk("get.lua", base + "/", {}, duration, connections, 2)
        return figures["requests"] / (figures["duration_us"] / 1e6)
    finally:
        stop_process(proc)


def per_call(fn, seconds: float = 2.0) -> float:
    """Seconds per call of fn, from as many calls as fit in about `seconds`."""
    fn()
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        fn()
        count += 1
    return elapsed / count


def signatures() -> tuple[float, float]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    message = b"x" * 400  # about a token's header and payload
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rs256 = per_call(lambda: rsa_key.sign(message, padding.PKCS1v15(), hashes.SHA256()))
    es256 = per_call(lambda: ec_key.sign(message, ec.ECDSA(hashes.SHA256())))
    return rs256 * 1e6, es256 * 1e6


def argon2id() -> tuple[float, str]:
    from argon2 import PasswordHasher, Type

    defaults = tomllib.loads((ROOT / "idp" / "defaults.toml").read_text())
    memory, time_cost, parallelism = (
        defaults["ARGON2_MEMORY_KIB"],
        defaults["ARGON2_TIME_COST"],
        defaults["ARGON2_PARALLELISM"],
    )
    hasher = PasswordHasher(
        time_cost=time_cost, memory_cost=memory, parallelism=parallelism, type=Type.ID
    )
    digest = hasher.hash("Ghế-đá-công-viên-2026")
    cost = per_call(lambda: hasher.verify(digest, "Ghế-đá-công-viên-2026"), seconds=3.0)
    return cost * 1e3, f"m={memory} KiB, t={time_cost}, p={parallelism}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    here: dict[str, float] = {}
    for server in ("granian", "gunicorn"):
        here[f"flask_{server}"] = serve_and_measure(
            server, args.workers, args.duration, args.connections
        )
    here["rs256_us"], here["es256_us"] = signatures()
    here["argon2id_ms"], argon2_params = argon2id()

    rows = [
        ("bare Flask JSON, granian (idp serve's command)", "flask_granian", "requests/s", False),
        ("bare Flask JSON, gunicorn sync", "flask_gunicorn", "requests/s", False),
        ("RS256 signature", "rs256_us", "µs", True),
        ("ES256 signature", "es256_us", "µs", True),
        (f"argon2id verification ({argon2_params})", "argon2id_ms", "ms", True),
    ]
    print(f"{args.workers} workers, wrk -t2 -c{args.connections} -d{args.duration}s")
    print("| measure | here | reference machine | slower here by |")
    print("|---|---:|---:|---:|")
    for label, key, unit, is_cost in rows:
        factor = here[key] / REFERENCE[key] if is_cost else REFERENCE[key] / here[key]
        print(
            f"| {label} | {here[key]:,.1f} {unit} | {REFERENCE[key]:,.0f} {unit} | ×{factor:.2f} |"
        )
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"calibrate-{stamp}.json").write_text(
        json.dumps({"args": vars(args), "here": here, "reference": REFERENCE}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
