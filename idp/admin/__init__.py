"""Administration without a shell: the console at /admin and the JSON admin API.

The package sits on top, beside idp.cli: it may import every other package, and none
imports it (pyproject.toml's import contracts). What an administrator may see and change is
decided in one place, idp.admin.permissions; the pages and the API only ask it.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # The people, audit and units pages add their views to the console's blueprint on
    # import, before it is registered.
    # lazy: the views import the whole provider
    from idp.admin import api, audit_log, cli, console, people, units  # noqa: F401

    console.init_app(app)
    api.init_app(app)
    cli.init_app(app)
