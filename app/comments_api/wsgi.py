"""WSGI entry point for servers that want a module-level app: `gunicorn comments_api.wsgi:app`."""

from . import create_app

app = create_app()
