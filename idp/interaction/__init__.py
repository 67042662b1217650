"""Interaction pages: sign-in, second factor, consent, sign-out."""

from flask import Flask


def init_app(app: Flask) -> None:
    from idp.interaction.views import bp

    app.register_blueprint(bp)
