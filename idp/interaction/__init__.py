"""Interaction pages: sign-in, second factor, consent, sign-out, and password self-service."""

from flask import Flask


def init_app(app: Flask) -> None:
    # lazy: the commands load with the app; they join `idp users` as they are defined
    from idp.interaction import cli  # noqa: F401

    # lazy: the pages load with the app, not with the package's models
    from idp.interaction.views import bp

    app.register_blueprint(bp)
