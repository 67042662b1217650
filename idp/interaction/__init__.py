"""Interaction pages: sign-in, second factor, consent, sign-out."""

from flask import Flask


def init_app(app: Flask) -> None:
    # lazy: the pages load with the app, not with the package's models
    from idp.interaction import cli  # noqa: F401  (its commands join `idp users`)
    from idp.interaction.views import bp

    app.register_blueprint(bp)
