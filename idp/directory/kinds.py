"""The kind names people write for units ("Sở", "Phòng", "Xã", "sub-unit", "health") and the
kinds they mean, from the setting UNIT_KIND_NAMES.

The unit import reads a spreadsheet that a district's clerk typed: a kind it cannot place
becomes "other" with a warning, instead of rejecting the unit and, with it, every person of
the unit (docs/directory.md, "Unit kinds").
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from idp.directory.fields import clean
from idp.directory.models import UNIT_KINDS, ascii_fold
from idp.errors import ValidationFailed

UNKNOWN_KIND = "other"


def name_key(name: str) -> str:
    """ "Sở", "SỞ", "so" -> "so"; "sub-unit", "Sub_Unit" -> "sub unit"."""
    folded = ascii_fold(clean(name)).casefold().replace("-", " ").replace("_", " ")
    return " ".join(folded.split())


def kind_names(setting: Any) -> dict[str, str]:
    """{name key: kind} from the setting: a list of [name, kind] pairs or a {name: kind}
    table; the kinds' own names always included. ValueError for a kind that does not exist."""
    pairs = setting.items() if isinstance(setting, dict) else (setting or [])
    names = {name_key(kind): kind for kind in UNIT_KINDS}
    for pair in pairs:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValueError(f"UNIT_KIND_NAMES: {pair!r} is not a [name, kind] pair")
        name, kind = pair
        if kind not in UNIT_KINDS:
            raise ValueError(
                f"UNIT_KIND_NAMES: {name!r} names the kind {kind!r}, which is none of "
                + ", ".join(UNIT_KINDS)
            )
        names[name_key(str(name))] = kind
    return names


def configured_names() -> dict[str, str]:
    """The mapping of the settings; ValidationFailed (the whole import stops, one line) when
    the setting names a kind that does not exist."""
    try:
        return kind_names(current_app.config.get("UNIT_KIND_NAMES"))
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None


def kind_of(value: str | None, names: dict[str, str]) -> tuple[str, str | None]:
    """(kind, warning): the kind a written name means; "other" and a warning for a name not
    in `names`. An empty cell is "other" without a warning."""
    written = clean(value)
    if not written:
        return UNKNOWN_KIND, None
    kind = names.get(name_key(written))
    if kind is not None:
        return kind, None
    return UNKNOWN_KIND, f"unknown unit kind {written!r}, imported as {UNKNOWN_KIND!r}"
