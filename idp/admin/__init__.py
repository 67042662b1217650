"""Administration without a shell: the console at /admin and the JSON admin API.

The package sits on top, beside idp.cli: it may import every other package, and none
imports it (pyproject.toml's import contracts). What an administrator may see and change is
decided in one place, idp.admin.permissions; the pages and the API only ask it.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # The pages add their views to console.bp on import, before it is registered.
    # lazy: the views import the whole provider
    from idp.admin import (  # noqa: F401
        api,
        audit_log,
        cli,
        clients_pages,
        console,
        deliveries_pages,
        keys_pages,
        labels,
        manifests_pages,
        people,
        tokens_pages,
        units,
    )

    console.init_app(app)
    api.init_app(app)
    cli.init_app(app)
