"""The WSGI entry point: `gunicorn wsgi:app` (the gevent worker patches before importing this)."""

import gc

from app import create_app

app = create_app()
# What start-up built lives as long as the worker: keep it out of the cyclic collector's passes, which
# otherwise rescan it while thousands of streams are being served. The thresholds stay Python's: raised
# (50,000, 20, 100), they removed the 0.5 s full passes at 5,000 open streams, but a failed upstream call
# leaves about 38 KB of cyclic garbage (exception chains through urllib3's frames) and 4,000 failed
# requests then grew the serving process by 200 MB before a pass (docs/serving.md).
gc.freeze()
