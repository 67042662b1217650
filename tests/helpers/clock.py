"""Clocks the tests move forward instead of waiting."""

from __future__ import annotations

from datetime import timedelta


class FakeClock:
    """Stands in for a module's `time` (only monotonic() is used):
    `monkeypatch.setattr(module, "time", clock)`, then `clock.now += seconds`."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now


def shift_utcnow(monkeypatch, module, seconds: float) -> None:
    """`module.utcnow()` answers `seconds` after the real clock (idp.extensions.utcnow)."""
    from idp.extensions import utcnow

    monkeypatch.setattr(module, "utcnow", lambda: utcnow() + timedelta(seconds=seconds))
