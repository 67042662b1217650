"""WSGI entry point of a checkout: `wsgi:app` for granian, gunicorn or any WSGI server started
in this folder. The installed package's own is `idp.wsgi:app` (what `idp serve` uses)."""

from idp.wsgi import app

__all__ = ["app"]
