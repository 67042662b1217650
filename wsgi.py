"""WSGI entry point: `app` for granian, gunicorn or any WSGI server."""

from idp import create_app

app = create_app()
