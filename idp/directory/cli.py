"""`idp users`, `idp units`, `idp directory` and `idp demo` commands."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Commands are added here by the directory package."""
