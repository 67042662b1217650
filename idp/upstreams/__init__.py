"""Signing in through upstream OpenID Connect providers (brokering; docs/upstreams.md).

config: the upstreams of the settings, checked at start-up; models: links, upstream
sessions, pending links; client: the strict OIDC client toward an upstream (discovery,
JWKS, token, ID token, userinfo; every call through idp.outbound); flow: the state of one
sign-in in the browser, and the verified identity it ends with; service: finding the
linked person and starting the session; views: the button's route, the callback, the
link step's seam; cli: `idp upstreams list/test`.

Imports the core, directory, sessions and factors; only idp, idp.admin and idp.cli import
it (pyproject.toml's contracts).
"""

from __future__ import annotations

from flask import Flask

from idp.upstreams import signout
from idp.upstreams.config import Upstream, check_upstream_settings, load_upstreams

EXTENSION = "idp.upstreams"


def configured(app: Flask) -> dict[str, Upstream]:
    """The upstreams of this app's settings, by name (parsed once, at start-up)."""
    return app.extensions[EXTENSION]


def init_app(app: Flask) -> None:
    check_upstream_settings(app.config)
    app.extensions[EXTENSION] = load_upstreams(app.config)
    signout.init_app(app)
