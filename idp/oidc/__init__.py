"""OpenID Connect / OAuth 2.0: the only package that imports Authlib's server side."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Endpoints, grants and commands are registered here."""
