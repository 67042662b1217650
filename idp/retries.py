"""What the two outboxes (back-channel logout notices, e-mail) share: the wait between
attempts and the one-line error kept with a row for the administrators' listings."""

from __future__ import annotations

from datetime import timedelta

LAST_ERROR_MAX_LENGTH = 200


def retry_delay(attempts: int, first_seconds: float, max_seconds: float) -> timedelta:
    """first, 2 x first, 4 x first, ... capped: the wait after the `attempts`-th failure."""
    seconds = first_seconds * (2 ** min(max(attempts - 1, 0), 30))
    return timedelta(seconds=min(seconds, max_seconds))


def clean_error(text: str) -> str:
    """One short printable line (`idp logout-deliveries`, `idp mail list`)."""
    line = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return line[:LAST_ERROR_MAX_LENGTH]
