"""Interaction pages: sign-in, second factor, consent, sign-out, and password self-service."""

from flask import Flask


def init_app(app: Flask) -> None:
    # The commands join `idp users` as they are defined.
    # lazy: the pages and commands load with the app, not with the package's models
    from idp.interaction import cli, views  # noqa: F401

    app.register_blueprint(views.bp)
