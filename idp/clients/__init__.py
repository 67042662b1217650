"""The registry of relying parties: models, metadata validation, manifests, dynamic
registration and initial access tokens, and the `idp clients` commands.

The protocol (idp.oidc) reads clients through this package (store.find_client, the Client
model) and never the other way round; the RFC 7591/7592 endpoints stay in
idp/oidc/registration.py because they subclass Authlib's server side, and call
idp.clients.registration for the work.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    # lazy: loading the tables (idp.clients.models) needs no commands
    from idp.clients import cli

    cli.init_cli(app)
