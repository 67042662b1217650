"""Log records caught by pytest's caplog."""

from __future__ import annotations

import logging


def idp_records(caplog) -> list[logging.LogRecord]:
    """The records of the `idp` loggers (they propagate to caplog's root handler)."""
    return [r for r in caplog.records if r.name == "idp" or r.name.startswith("idp.")]
