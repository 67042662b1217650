"""The registry of relying parties: models, metadata validation, manifests, dynamic
registration and initial access tokens, and the `idp clients` commands.

The protocol (idp.oidc) reads clients through this package's public names: the `Client`
type below and the read functions of `idp.clients.store` (find_active_client,
find_active_client_cached, active_flag, clients_by_id); it never queries the tables itself,
and the registry never imports the protocol; the RFC 7591/7592 endpoints stay in
idp/oidc/registration.py because they subclass Authlib's server side, and call
idp.clients.registration for the work.
"""

from flask import Flask

from idp.clients.models import Client

__all__ = ["Client", "init_app"]


def init_app(app: Flask) -> None:
    # lazy: loading the tables (idp.clients.models) needs no commands
    from idp.clients import cli

    cli.init_cli(app)
