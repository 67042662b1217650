"""Signing in through upstream OpenID Connect providers (brokering; docs/upstreams.md).

config: the upstreams of the settings, checked at start-up; models: links, upstream
sessions, pending links; client: the strict OIDC client toward an upstream (calls through
idp.outbound, discovery, JWKS, the authorization request); tokens: the token request, the
ID token's checks, userinfo; flow: the state of one
sign-in in the browser, and the verified identity it ends with; service: finding the
linked person and starting the session; views: the button's route, the callback, the
link step's seam; cli: `idp upstreams list/test`.

Imports the core, directory, sessions and factors; only idp, idp.admin and idp.cli import
it (pyproject.toml's contracts).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, request, url_for

from idp.directory import guards
from idp.upstreams import signout
from idp.upstreams.config import Upstream, check_upstream_settings, load_upstreams

EXTENSION = "idp.upstreams"


def configured(app: Flask) -> dict[str, Upstream]:
    """The upstreams of this app's settings, by name (parsed once, at start-up)."""
    return app.extensions[EXTENSION]


@dataclass(frozen=True)
class SignInButton:
    name: str
    display_name: str
    logo: str
    url: str


def sign_in_buttons(next_url: str | None) -> list[SignInButton]:
    """The sign-in page's "Đăng nhập bằng ..." buttons, carrying `next`, the level the
    relying party asked for (the page's `acr`) and whether credentials must be given afresh
    (`force`)."""
    acr = request.args.get("acr") or None
    # prompt=login, max_age, a step-up: the upstream is asked to authenticate afresh too.
    force = "1" if request.args.get("force") == "1" else None
    return [
        SignInButton(
            name=upstream.name,
            display_name=upstream.display_name,
            logo=upstream.logo,
            url=url_for(
                "upstreams.start", name=upstream.name, next=next_url or None, acr=acr, force=force
            ),
        )
        for upstream in configured(current_app).values()
    ]


def init_app(app: Flask) -> None:
    # lazy: the views import this package's configured() and need the app's blueprints
    from idp.upstreams import cli, link_views, linking, views

    check_upstream_settings(app.config)
    app.extensions[EXTENSION] = load_upstreams(app.config)
    app.register_blueprint(views.bp)
    signout.init_app(app)
    link_views.init_app(app)
    cli.init_app(app)
    # An account made at a first sign-in here is not the LDAP sync's to adopt by address.
    guards.register(app, "upstream_account", linking.created_by_upstream, privileged=False)

    @app.context_processor
    def _upstream_buttons() -> dict:
        # The sign-in page (interaction/login.html) shows one button per upstream.
        return {"upstream_sign_in_buttons": sign_in_buttons}
