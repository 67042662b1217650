"""WSGI entry point inside the package: `idp.wsgi:app`, what `idp serve` hands to granian or
gunicorn, importable from any directory once the package is installed."""

from idp import create_app

app = create_app()
