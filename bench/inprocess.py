"""CPU time of one request through the whole WSGI app, without a server or a network.

Run as a child process of `bench.layers --in-process`, with the environment of a server that
`bench.run.serving` started (its database and fixtures): the app is made by
`bench.variants.create()` (IDP_BENCH_OFF's layers switched off), and each request is sent
`--batch` times over, `--batches` times. The fastest batch is the figure: other work on the
machine can only make a batch slower, so the minimum is the closest to the code's own cost.
Prints one JSON object: microseconds per request, by scenario.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time

from werkzeug.test import EnvironBuilder


def requests_of(fixtures: dict) -> dict[str, dict]:
    """The EnvironBuilder arguments of each scenario (the same requests wrk sends)."""
    return {
        "discovery": {"path": "/.well-known/openid-configuration"},
        "jwks": {"path": fixtures["jwks_path"]},
        "client_credentials": {
            "path": fixtures["token_path"],
            "method": "POST",
            "data": {"grant_type": "client_credentials"},
            "headers": {"Authorization": fixtures["machine_basic"]},
        },
        "introspection": {
            "path": fixtures["introspection_path"],
            "method": "POST",
            "data": {"token": fixtures["access_token"]},
            "headers": {"Authorization": fixtures["machine_basic"]},
        },
        "userinfo": {
            "path": fixtures["userinfo_path"],
            "headers": {"Authorization": "Bearer " + fixtures["access_token"]},
        },
    }


def cost(app, arguments: dict, base: str, batch: int, batches: int) -> float:
    """Microseconds of CPU per request, the fastest of `batches` batches."""
    builder = EnvironBuilder(base_url=base, **arguments)
    template = builder.get_environ()
    body = template["wsgi.input"].read()

    def start_response(status, headers, exc_info=None):
        start_response.status = status

    best = float("inf")
    for _ in range(batches):
        started = time.process_time()
        for _ in range(batch):
            environ = dict(template)
            environ["wsgi.input"] = io.BytesIO(body)
            for _chunk in app(environ, start_response):
                pass
        best = min(best, (time.process_time() - started) / batch)
        if not start_response.status.startswith("200"):
            raise SystemExit(f"{arguments['path']}: {start_response.status}")
    return best * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fixtures", required=True, help="JSON: paths, credentials, token")
    parser.add_argument("--scenarios", required=True)
    parser.add_argument("--batch", type=int, default=300)
    parser.add_argument("--batches", type=int, default=15)
    args = parser.parse_args(argv)
    fixtures = json.loads(args.fixtures)
    from bench.variants import create

    app = create()
    catalogue = requests_of(fixtures)
    figures = {}
    for scenario in args.scenarios.split(","):
        # Warm up: the first requests fill caches (keys, clients, compiled statements).
        cost(app, catalogue[scenario], fixtures["base"], 50, 1)
        figures[scenario] = cost(
            app, catalogue[scenario], fixtures["base"], args.batch, args.batches
        )
    json.dump(figures, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
