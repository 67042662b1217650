"""Language and time zone: Vietnamese first, English second.

The language is chosen, in order, by the `ui_locales` request parameter (OpenID Connect
Core 3.1.2.1), the language switch (a cookie), the browser's Accept-Language, and the default.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, request
from flask_babel import format_datetime, get_locale

from idp.extensions import babel

LANG_COOKIE = "idp_lang"


def pick_locale(ui_locales: str | None, cookie: str | None, supported: list[str]) -> str | None:
    for tag in (ui_locales or "").split():
        lang = tag.split("-")[0].lower()
        if lang in supported:
            return lang
    if cookie in supported:
        return cookie
    return None


def select_locale() -> str:
    supported = current_app.config["LANGUAGES"]
    if "locale" in g:
        return g.locale
    chosen = pick_locale(
        request.values.get("ui_locales") or request.args.get("lang"),
        request.cookies.get(LANG_COOKIE),
        supported,
    )
    if chosen is None:
        chosen = request.accept_languages.best_match(supported, default=supported[0])
    g.locale = chosen
    return chosen


def select_timezone() -> str:
    return current_app.config["TIMEZONE"]


def local_time(value: datetime | None, fmt: str = "medium") -> str:
    """A timestamp shown to people, in the province's time zone and the page's language."""
    if value is None:
        return ""
    return format_datetime(value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])), fmt)


def local_time_plain(value: datetime) -> str:
    """A timestamp for command-line output: ISO-like, in the province's time zone."""
    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime("%Y-%m-%d %H:%M %Z")


def init_app(app: Flask) -> None:
    from idp.settings import ROOT

    app.config["BABEL_DEFAULT_LOCALE"] = app.config["LANGUAGES"][0]
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["TIMEZONE"]
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(ROOT / "idp" / "translations")
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.filters["localtime"] = local_time

    def org_name() -> str:
        return app.config["ORG_NAME_EN"] if str(get_locale()) == "en" else app.config["ORG_NAME"]

    def site_name() -> str:
        return app.config["SITE_NAME_EN"] if str(get_locale()) == "en" else app.config["SITE_NAME"]

    app.jinja_env.globals.update(org_name=org_name, site_name=site_name, get_locale=get_locale)
