"""Language and time zone: Vietnamese first, English second.

The language of a page is chosen, in order, by:

1. the language switch on every page (a cookie): the person's own explicit choice wins;
2. the `ui_locales` request parameter (OpenID Connect Core 3.1.2.1), either on the request
   itself or inside the local `next` URL the sign-in page returns to (the authorization
   request that sent the person to sign in);
3. the browser's Accept-Language header;
4. the default, the first of LANGUAGES (Vietnamese).

Times are shown in the province's time zone (TIMEZONE, Asia/Ho_Chi_Minh), written the way
Vietnamese offices write them, "02/12/2026 04:26" (dd/MM/yyyy HH:mm), on every page and in
both languages: `local_time` (the `localtime` filter) is the one formatter of pages,
`local_clock` the time of day alone ("04:26"), `local_iso` the `<time datetime>` value.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, has_request_context, request
from flask_babel import get_locale
from werkzeug.exceptions import HTTPException

from idp.extensions import babel
from idp.security import read_cookie
from idp.settings import package_path

# The base name of the language cookie (idp.security.cookie_name).
LANG_COOKIE = "idp_lang"


def pick_locale(ui_locales: str | None, supported: list[str]) -> str | None:
    """The first supported language of a space-separated list of BCP 47 tags ("en-US vi")."""
    for tag in (ui_locales or "").split():
        lang = tag.split("-")[0].lower()
        if lang in supported:
            return lang
    return None


def _form_value(name: str) -> str | None:
    if request.method != "POST":
        return None
    try:
        return request.form.get(name)
    except HTTPException:  # an oversized or malformed body: the error page still needs a language
        return None


def _ui_locales_of_next(target: str | None) -> str | None:
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    values = parse_qs(urlsplit(target).query).get("ui_locales")
    return values[0] if values else None


def requested_ui_locales() -> str | None:
    """ui_locales of this request, or of the authorization request waiting behind sign-in."""
    return (
        request.args.get("ui_locales")
        or _form_value("ui_locales")
        or request.args.get("lang")
        or _ui_locales_of_next(request.args.get("next") or _form_value("next"))
    )


def accepted_language(supported: list[str]) -> str:
    """The browser's most preferred supported language, by primary subtag ("vi-VN" is "vi").

    Werkzeug's best_match prefers an exact match of lower quality ("en;q=0.5") over a
    regional variant of the first choice, which would show English to "vi-VN,en;q=0.5".
    """
    for value, quality in request.accept_languages:
        lang = value.split("-")[0].split("_")[0].lower()
        if quality > 0 and lang in supported:
            return lang
    return supported[0]


def select_locale() -> str:
    if "locale" in g:
        return g.locale
    supported = current_app.config["LANGUAGES"]
    if not has_request_context():
        # Command-line use: messages in the default language.
        return supported[0]
    cookie = read_cookie(LANG_COOKIE)
    chosen = cookie if cookie in supported else pick_locale(requested_ui_locales(), supported)
    if chosen is None:
        chosen = accepted_language(supported)
    g.locale = chosen
    return chosen


def select_timezone() -> str:
    return current_app.config["TIMEZONE"]


# The one way pages write a date and time ("02/12/2026 04:26"), in Vietnamese and in English.
DATETIME_FORMAT = "%d/%m/%Y %H:%M"
CLOCK_FORMAT = "%H:%M"


def _in_province(value: datetime) -> datetime:
    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"]))


def local_time(value: datetime | None) -> str:
    """A date and time shown to people: dd/MM/yyyy HH:mm in the province's time zone."""
    if value is None:
        return ""
    return _in_province(value).strftime(DATETIME_FORMAT)


def local_clock(value: datetime | None) -> str:
    """The time of day alone (HH:mm), in the province's time zone."""
    if value is None:
        return ""
    return _in_province(value).strftime(CLOCK_FORMAT)


def local_iso(value: datetime | None) -> str:
    """The same instant as ISO 8601 with the province's offset, for <time datetime="...">."""
    if value is None:
        return ""
    return _in_province(value).isoformat(timespec="seconds")


def init_app(app: Flask) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = app.config["LANGUAGES"][0]
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["TIMEZONE"]
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(package_path("translations"))
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.filters["localtime"] = local_time
    app.jinja_env.filters["localclock"] = local_clock
    app.jinja_env.filters["localiso"] = local_iso

    def org_name() -> str:
        return app.config["ORG_NAME_EN"] if str(get_locale()) == "en" else app.config["ORG_NAME"]

    def site_name() -> str:
        return app.config["SITE_NAME_EN"] if str(get_locale()) == "en" else app.config["SITE_NAME"]

    app.jinja_env.globals.update(org_name=org_name, site_name=site_name, get_locale=get_locale)
