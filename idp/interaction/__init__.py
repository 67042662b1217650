"""Interaction pages: sign-in, second factor, consent, sign-out."""

from flask import Flask


def init_app(app: Flask) -> None:
    # lazy: the pages load with the app, not with the package's models
    from idp.interaction import cli, views

    app.register_blueprint(views.bp)
    cli.init_app(app)
