"""What a User-Agent header says about the device: for the session list and the account
page's recent sign-ins."""

from __future__ import annotations

import re

_BROWSERS = [
    (r"Edg(e|A|iOS)?/", "Edge"),
    (r"OPR/|Opera", "Opera"),
    (r"CocCoc|coc_coc", "Cốc Cốc"),
    (r"Firefox/|FxiOS/", "Firefox"),
    (r"Chrome/|CriOS/|Chromium/", "Chrome"),
    (r"Safari/", "Safari"),
]
_SYSTEMS = [
    (r"Android", "Android"),
    (r"iPhone|iPad|iPod", "iOS"),
    (r"Windows", "Windows"),
    (r"Mac OS X|Macintosh", "macOS"),
    (r"CrOS", "ChromeOS"),
    (r"Linux", "Linux"),
]


def describe_device(user_agent: str | None) -> str:
    """ "Chrome · Windows" from a User-Agent header; the raw header when nothing is known."""
    if not user_agent:
        return ""
    browser = next((name for pat, name in _BROWSERS if re.search(pat, user_agent)), None)
    system = next((name for pat, name in _SYSTEMS if re.search(pat, user_agent)), None)
    parts = [p for p in (browser, system) if p]
    return " · ".join(parts) if parts else user_agent[:60]
