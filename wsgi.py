"""The WSGI entry point: `gunicorn wsgi:app` (the gevent worker patches before importing this)."""

import gc

from app import create_app

app = create_app()
# What start-up built lives as long as the worker: keep it out of the cyclic collector's passes, which
# otherwise rescan it while thousands of streams are being served.
gc.freeze()
# And pass rarely: with Python's thresholds (700, 10, 10) a full pass, 0.5-0.7 s at 5,000 open streams (it
# walks every stream's state), came several times a minute while streams opened. Raised thresholds are safe
# because a request, failed or not, leaves no cyclic garbage to pile up between passes (a failed upstream
# call used to leave about 38 KB: tests/unit/test_failure_garbage.py keeps it at none; docs/serving.md).
gc.set_threshold(50_000, 20, 100)
