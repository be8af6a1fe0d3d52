"""The WSGI entry point: `gunicorn wsgi:app` (the gevent worker patches before importing this)."""

import gc

from app import create_app

app = create_app()
# What start-up built lives as long as the worker: keep it out of the cyclic collector's passes, which
# otherwise rescan it while thousands of streams are being served.
gc.freeze()
# Never pass over everything while serving: with Python's thresholds (700, 10, 10) a full pass, 0.5-0.7 s at 5,000
# open streams (it walks every stream's state), came several times a minute while streams opened. Young passes
# keep Python's small thresholds, so each walks a few thousand objects (a large first threshold made each young
# pass walk 60,000-100,000 objects, 25-70 ms at 5,000 streams). Full passes waiting that long is safe because a
# request, failed or not, leaves no cyclic garbage to reach the old generation (tests/unit/test_failure_garbage.py;
# docs/serving.md).
gc.set_threshold(700, 10, 10_000)
