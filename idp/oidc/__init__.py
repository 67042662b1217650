"""OpenID Connect / OAuth 2.0: the only package that imports Authlib's server side."""

from flask import Flask

from idp import limits
from idp.sessions import worker

# The endpoints programs call, and the setting that limits each (idp.limits).
RATE_LIMITED = {
    "oidc.token": "RATE_LIMIT_TOKEN",
    "oidc.introspect": "RATE_LIMIT_INTROSPECTION",
    "oidc.revoke": "RATE_LIMIT_REVOCATION",
    "registration.register": "RATE_LIMIT_REGISTRATION",
    "registration.configure": "RATE_LIMIT_REGISTRATION",
}


def init_app(app: Flask) -> None:
    """Endpoints, grants and commands are registered here."""
    from idp.oidc import (  # noqa: F401  lazy: the protocol loads with the app, not with its models
        cli,
        client_keys,
        logout,
        registration,
        server,
        single_logout,
        token_models,
        views,
    )

    server.create_server(app)
    worker.add_periodic(
        app, "refresh client keys", client_keys.REFRESH_CHECK_SECONDS, client_keys.refresh_stale
    )
    views.init_app(app)
    registration.init_registration(app)
    for endpoint, setting in RATE_LIMITED.items():
        limits.limit(app, endpoint, setting)
    logout.init_app(app)
    single_logout.init_app(app)
    cli.init_app(app)
