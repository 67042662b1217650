"""The provincial OpenID Connect single sign-on identity provider."""

from __future__ import annotations

from typing import Any

from flask import Flask

from idp.settings import check_settings, load_settings, package_path


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application: settings, then one init_app per part."""
    settings = load_settings(config)
    check_settings(settings)

    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"], instance_relative_config=False)
    app.config.update(settings)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=settings["DATABASE_URL"],
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings["DATABASE_URL"]),
        PREFERRED_URL_SCHEME="https" if settings["ISSUER"].startswith("https://") else "http",
        # A form's CSRF token expires (the error page offers a fresh form).
        WTF_CSRF_TIME_LIMIT=settings["CSRF_TIME_LIMIT_SECONDS"],
        JSON_AS_ASCII=False,
    )

    from idp import (  # noqa: F401  cycle: every part imports idp; models: every table registered
        account,
        admin,
        cli,
        clients,
        errors,
        extensions,
        factors,
        health,
        http,
        i18n,
        interaction,
        keys,
        limits,
        logs,
        mail,
        models,
        oidc,
        passkeys,
        security,
        sessions,
        upstreams,
    )

    logs.init_app(app)
    http.init_app(app)
    extensions.db.init_app(app)
    extensions.sqlite_synchronous(app)
    extensions.migrate.init_app(app, extensions.db, directory=str(package_path("migrations")))
    extensions.csrf.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    limits.init_app(app)
    health.init_app(app)
    sessions.init_app(app)
    factors.init_app(app)
    keys.init_app(app)
    clients.init_app(app)
    oidc.init_app(app)
    interaction.init_app(app)
    account.init_app(app)
    passkeys.init_app(app)
    upstreams.init_app(app)
    admin.init_app(app)
    mail.init_app(app)
    # Mail imports no package above the core: its job runs in `idp worker` by this wiring.
    sessions.worker.add_periodic(
        app, "send mail", app.config["MAIL_POLL_SECONDS"], mail.worker.send_due
    )
    cli.init_app(app)
    return app


def engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # One connection per thread; WAL lets readers run beside the writer; a writer that
        # finds another one busy waits in SQLite's busy handler, up to 10 seconds.
        return {"connect_args": {"timeout": 10, "check_same_thread": False}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10}
