"""The user's own pages ("Tài khoản của tôi")."""

from flask import Flask, redirect, url_for


def init_app(app: Flask) -> None:
    # lazy: the pages load with the app, not with the package's models
    from idp.account.views import bp

    app.register_blueprint(bp)

    @app.get("/")
    def home():
        return redirect(url_for("account.index"))
