"""Pages are accessible (WCAG 2.1 AA basics), fit a phone, need no script, show the branding."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

STYLE = Path(__file__).resolve().parents[2] / "idp" / "static" / "style.css"


class Page(HTMLParser):
    """The parts of a page the checks need."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[int] = []
        self.label_for: set[str] = set()
        self.text_in: dict[str, list[str]] = {}
        self._open: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "label" and attributes.get("for"):
            self.label_for.add(attributes["for"])
        if tag in ("button", "a", "label", "h1"):
            self._open.append(tag)
            self.text_in.setdefault(tag, []).append("")

    def handle_endtag(self, tag):
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data):
        for tag in self._open:
            self.text_in[tag][-1] += data

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if a.get("id")}


def _pages(client, auth, make_user) -> dict[str, str]:
    make_user(aliases=["an.nv@haugiang.gov.vn"])
    pages = {
        "sign-in": client.get("/login").get_data(as_text=True),
        "sign-in with errors": client.post(
            "/login", data={"email": "", "password": "", "csrf_token": auth.csrf_token()}
        ).get_data(as_text=True),
        "wrong password": auth.login(password="wrong-password").get_data(as_text=True),
        "signed out": client.get("/logged-out").get_data(as_text=True),
        "not found": client.get("/nowhere").get_data(as_text=True),
    }
    auth.login()
    pages["account"] = client.get("/account/").get_data(as_text=True)
    pages["sign-out confirmation"] = client.get("/logout").get_data(as_text=True)
    return pages


def test_pages_meet_the_structural_accessibility_checks(client, auth, make_user):
    for name, html in _pages(client, auth, make_user).items():
        page = Page(html)
        (root,) = page.all("html")
        assert root.get("lang") == "vi", name
        assert any(
            m.get("name") == "viewport" and "width=device-width" in (m.get("content") or "")
            for m in page.all("meta")
        ), name
        # A skip link first, to the main region.
        first_link = page.all("a")[0]
        assert first_link["href"] == "#main" and "skip" in first_link["class"], name
        assert page.text_in["a"][0].strip(), name
        assert "main" in page.ids(), name
        # One h1, and headings never skip a level.
        assert page.headings.count(1) == 1 and page.headings[0] == 1, name
        assert all(b - a <= 1 for a, b in zip(page.headings, page.headings[1:], strict=False)), name
        # Every visible control has a label bound to it; every button says what it does.
        for field in page.all("input"):
            if field.get("type") == "hidden":
                continue
            assert field.get("id") in page.label_for, (name, field)
        assert all(t.strip() for t in page.text_in.get("button", [])), name
        assert all(t.strip() for t in page.text_in.get("label", [])), name
        # aria-describedby points at elements that exist.
        for _, attrs in page.tags:
            for ref in (attrs.get("aria-describedby") or "").split():
                assert ref in page.ids(), (name, ref)
        # Images carry alt text (empty for the decorative logo next to the name).
        assert all("alt" in img for img in page.all("img")), name
        # No script but the passkey ceremonies (WebAuthn has no form of its own): everything
        # else works with scripts off, and the passkey controls stay hidden then.
        assert all(s.get("src") == "/static/passkeys.js" for s in page.all("script")), name
        assert not re.search(r"\son[a-z]+=", html), name
        # Every form is CSRF-protected.
        for form in page.all("form"):
            assert form.get("method") == "post", name
        assert html.count("<form") == html.count('name="csrf_token"'), name


def test_errors_are_announced(client, auth, make_user):
    pages = _pages(client, auth, make_user)
    for name in ("sign-in with errors", "wrong password", "not found"):
        assert 'role="alert"' in pages[name], name


# --- contrast ---------------------------------------------------------------------------


def _luminance(hex_colour: str) -> float:
    hex_colour = hex_colour.lstrip("#")
    if len(hex_colour) == 3:
        hex_colour = "".join(c * 2 for c in hex_colour)
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio of two sRGB colours."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _palette() -> dict[str, str]:
    root = re.search(r":root\s*{([^}]*)}", STYLE.read_text()).group(1)
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})", root))


def test_contrast_formula():
    assert contrast("#000", "#fff") == pytest.approx(21)
    assert contrast("#767676", "#fff") == pytest.approx(4.54, abs=0.01)


# (foreground, background, minimum): text needs 4.5:1, focus rings and field borders 3:1.
PAIRS = [
    ("fg", "bg", 4.5),
    ("fg", "card", 4.5),
    ("muted", "card", 4.5),
    ("muted", "bg", 4.5),
    ("primary-fg", "primary", 4.5),
    ("primary", "card", 4.5),
    ("err", "err-bg", 4.5),
    ("err", "card", 4.5),
    ("ok", "ok-bg", 4.5),
    ("tag-fg", "tag-bg", 4.5),
    ("focus", "card", 3),
    ("focus", "bg", 3),
    ("focus-on-primary", "primary", 3),
    ("field-border", "card", 3),
]


@pytest.mark.parametrize("foreground, background, minimum", PAIRS)
def test_colours_meet_wcag_aa_contrast(foreground, background, minimum):
    palette = _palette()
    assert contrast(palette[foreground], palette[background]) >= minimum


def test_focus_is_always_visible_and_the_layout_fits_a_phone():
    css = STYLE.read_text()
    assert re.search(r":focus-visible\s*{\s*outline:\s*3px solid var\(--focus\)", css)
    assert "outline: none" not in css.replace("main:focus { outline: none; }", "")
    assert "@media (max-width: 560px)" in css


# --- branding from settings ---------------------------------------------------------------

BRAND = {
    "ORG_NAME": "Ủy ban nhân dân tỉnh Cần Thơ",
    "ORG_NAME_EN": "Can Tho Provincial People's Committee",
    "ORG_LOGO_URL": "/static/can-tho.svg",
    "SITE_NAME": "Cổng đăng nhập",
    "SITE_NAME_EN": "Sign-in portal",
}


@pytest.mark.parametrize("app_config", [BRAND])
def test_name_and_logo_come_from_settings(client):
    vi = client.get("/login").get_data(as_text=True)
    assert "Ủy ban nhân dân tỉnh Cần Thơ" in vi and "Hậu Giang" not in vi
    assert '<img src="/static/can-tho.svg"' in vi
    assert "<title>Đăng nhập · Ủy ban nhân dân tỉnh Cần Thơ</title>" in vi
    assert "Cổng đăng nhập" in vi
    en = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Can Tho Provincial People&#39;s Committee" in en and "Sign-in portal" in en
    assert "Hau Giang" not in en
