"""Languages: Vietnamese by default, English second; the English catalogue is complete.

The catalogue checks fail when someone adds or changes a Vietnamese string without running
`make translations` and translating it, or forgets to recompile messages.mo.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from helpers.pages import csrf_token

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "idp" / "translations" / "en" / "LC_MESSAGES"


def _po():
    with (CATALOGUE / "messages.po").open("rb") as fh:
        return read_po(fh)


def test_every_english_entry_is_translated_and_not_fuzzy():
    untranslated = [m.id for m in _po() if m.id and (not m.string or m.fuzzy)]
    assert untranslated == [], "translate these in messages.po, then `make translations`"


def test_placeholders_match_between_vietnamese_and_english():
    problems = [(m.id, [str(e) for e in errors]) for m, errors in _po().check()]
    assert problems == []


def _plain(value):
    """A message id or string; plural forms (ngettext) as a tuple, whichever reader gave it."""
    return value if isinstance(value, str) else tuple(value)


def test_compiled_catalogue_matches_the_po_file():
    with (CATALOGUE / "messages.mo").open("rb") as fh:
        compiled = {_plain(m.id): _plain(m.string) for m in read_mo(fh) if m.id}
    source = {_plain(m.id): _plain(m.string) for m in _po() if m.id}
    assert compiled == source, "messages.mo is stale: run `make translations`"


def test_every_string_in_the_code_is_in_the_catalogue():
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    in_code = {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, *_ in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords
        )
    }
    catalogue = {m.id if isinstance(m.id, str) else m.id[0] for m in _po() if m.id}
    assert sorted(in_code - catalogue) == [], "new strings: run `make translations` and translate"


def test_sources_are_vietnamese_with_diacritics():
    """Guards against Vietnamese typed without its marks ("Dang nhap") or English sources."""

    def marked(text: str) -> bool:
        decomposed = unicodedata.normalize("NFD", text)
        return "đ" in text.lower() or any(unicodedata.combining(c) for c in decomposed)

    sentences = [m.id for m in _po() if m.id and " " in m.id]
    assert [s for s in sentences if not marked(s)] == []


# --- choosing the language -------------------------------------------------------------


def _lang(response) -> str:
    return re.search(r'<html lang="([a-z]+)">', response.get_data(as_text=True)).group(1)


def test_english_pages_are_really_english(client):
    html = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(
        as_text=True
    )
    assert '<html lang="en">' in html
    assert "<h1>Sign in</h1>" in html
    assert 'for="password">Password</label>' in html
    assert 'for="email">E-mail address</label>' in html
    assert "Keep me signed in on this device" in html
    assert "Skip to main content" in html
    assert "Hau Giang Provincial People&#39;s Committee" in html
    assert "Đăng nhập" not in html.replace('lang="vi" hreflang="vi">Tiếng Việt', "")


def test_english_error_page_and_validation_messages(client, auth):
    page = client.get("/nowhere", headers={"Accept-Language": "en"})
    assert page.status_code == 404
    assert "Page not found" in page.get_data(as_text=True)
    token = auth.csrf_token()
    response = client.post(
        "/login",
        data={"email": "", "password": "", "csrf_token": token},
        headers={"Accept-Language": "en"},
    )
    html = response.get_data(as_text=True)
    assert "Please enter your e-mail address." in html
    assert "Please enter your password." in html


def test_english_account_page(client, auth, make_user):
    make_user()
    client.get("/lang/en")
    auth.login()
    html = client.get("/account/").get_data(as_text=True)
    assert '<h1 id="account-title">My account</h1>' in html
    assert "Recent sign-ins" in html
    assert ">Sign out</button>" in html


def test_default_is_vietnamese_for_other_languages(client):
    assert _lang(client.get("/login")) == "vi"
    assert _lang(client.get("/login", headers={"Accept-Language": "fr-FR,de;q=0.8"})) == "vi"
    assert _lang(client.get("/login", headers={"Accept-Language": "vi-VN,en;q=0.5"})) == "vi"


def test_ui_locales_beats_accept_language(client):
    assert _lang(client.get("/login?ui_locales=en-US", headers={"Accept-Language": "vi"})) == "en"
    assert _lang(client.get("/login?ui_locales=fr%20en", headers={"Accept-Language": "vi"})) == "en"
    assert _lang(client.get("/login?ui_locales=vi", headers={"Accept-Language": "en"})) == "vi"
    # An unsupported list falls through to the browser's preference.
    assert _lang(client.get("/login?ui_locales=fr", headers={"Accept-Language": "en"})) == "en"


def test_ui_locales_of_the_waiting_authorization_request(client, auth, make_user):
    """/login?next=/oauth2/authorize?...&ui_locales=en: the page and its answers are English."""
    from urllib.parse import quote

    make_user()
    target = "/oauth2/authorize?client_id=c&ui_locales=en"
    page = client.get("/login?next=" + quote(target, safe=""))
    assert _lang(page) == "en"
    token = csrf_token(page.get_data(as_text=True))
    wrong = client.post(
        "/login",
        data={
            "email": "nguyen.van.an@haugiang.gov.vn",
            "password": "wrong-password",
            "next": target,
            "csrf_token": token,
        },
    )
    assert "The e-mail address or password is incorrect." in wrong.get_data(as_text=True)


def test_language_switch_is_remembered_and_wins(client):
    response = client.get("/lang/en?next=/login")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("idp_lang=en;")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert _lang(client.get("/login", headers={"Accept-Language": "vi"})) == "en"
    # The person's own choice beats the relying party's hint.
    assert _lang(client.get("/login?ui_locales=vi")) == "en"
    client.get("/lang/vi")
    assert _lang(client.get("/login", headers={"Accept-Language": "en"})) == "vi"


def test_switching_to_an_unknown_language_changes_nothing(client):
    response = client.get("/lang/xx?next=/login")
    assert response.status_code == 302
    assert "Set-Cookie" not in response.headers
    assert _lang(client.get("/login")) == "vi"


def test_every_page_offers_the_switch_to_the_other_language(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'href="/lang/en?next=/login" lang="en" hreflang="en">English</a>' in html
    assert '<span aria-current="true" lang="vi">Tiếng Việt</span>' in html


def test_password_policy_messages_follow_the_language(sqlite_app):
    from idp.directory.passwords import check_password_policy

    with sqlite_app.test_request_context(headers={"Accept-Language": "en"}):
        messages = [v.message for v in check_password_policy("short")]
    assert "The password must be at least 10 characters long." in messages


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_times_are_written_dd_mm_yyyy_hh_mm_in_vietnam_time_in_both_languages(sqlite_app, lang):
    from idp.i18n import local_clock, local_iso, local_time

    at = datetime(2026, 12, 1, 21, 26, 24, tzinfo=UTC)  # 2 December, 04:26 in Ho Chi Minh City
    with sqlite_app.test_request_context(headers={"Accept-Language": lang}):
        assert local_time(at) == "02/12/2026 04:26"
        assert local_clock(at) == "04:26"
        assert local_iso(at) == "2026-12-02T04:26:24+07:00"
        assert local_time(None) == local_clock(None) == ""


def test_pages_format_times_with_the_one_helper():
    """Every date on a page goes through the localtime filter (idp.i18n.local_time): no
    template formats dates itself, none calls Babel's formatters, no .isoformat() or strftime."""
    from idp.settings import package_path

    for template in package_path("templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for forbidden in ("format_datetime", "format_date", "format_time", "strftime", "isoformat"):
            assert forbidden not in text, f"{template.name}: {forbidden}"
        for filter_name in re.findall(r"\|\s*(\w*(?:date|time)\w*)", text):
            assert filter_name in ("localtime", "localclock"), f"{template.name}: {filter_name}"
