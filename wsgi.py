"""The WSGI entry point: `gunicorn wsgi:app` (the gevent worker patches before importing this)."""

import gc

from app import create_app

app = create_app()
# What start-up built lives as long as the worker: keep it out of the cyclic collector's passes, which
# otherwise rescan it while thousands of streams are being served.
gc.freeze()
# Every pass of the cyclic collector walks what each open stream's current wait holds (gevent's timer,
# waiter and timeout: young, alive, re-made at every chunk), and a full pass walks every stream's state:
# about 0.5 s at 5,000 open streams, several times a minute while streams open. Young passes 70 times rarer
# and a full pass only after 100 middle ones took the per-chunk delay p99 at 5,000 streams from 290-600 ms
# to about 50 (docs/serving.md). What we make is freed by reference counting: per request one small cycle
# (werkzeug's URL matcher) is left, and the young passes take it.
gc.set_threshold(50_000, 20, 100)
