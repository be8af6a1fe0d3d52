"""The WSGI entry point: `gunicorn wsgi:app` (the gevent worker patches before importing this)."""

import gc

from app import create_app

app = create_app()
# What start-up built lives as long as the worker: keep it out of the cyclic collector's passes, which
# otherwise rescan it while thousands of streams are being served.
gc.freeze()
