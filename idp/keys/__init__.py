"""Signing keys: generation, encryption at rest, rotation, JWKS."""

from flask import Flask


def init_app(app: Flask) -> None:
    # lazy: the pages load with the app, not with the package's models
    from idp.keys import cli, views

    app.register_blueprint(views.bp)
    cli.init_app(app)
