"""The WSGI entry point: `gunicorn wsgi:app` (the gevent worker patches before importing this)."""

from app import create_app

app = create_app()
