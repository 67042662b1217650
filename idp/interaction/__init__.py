"""Interaction pages: sign-in, second factor, consent, sign-out, and password self-service."""

from flask import Flask


def init_app(app: Flask) -> None:
    # lazy: the pages and commands load with the app, not with the package's models; the
    # commands join `idp users` as they are defined
    from idp.interaction import cli, views  # noqa: F401

    app.register_blueprint(views.bp)
