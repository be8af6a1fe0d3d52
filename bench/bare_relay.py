"""The floor of our stack: a Flask + gunicorn-gevent + requests relay that forwards bytes and nothing else."""

import os

import requests
from flask import Flask, Response, request

UPSTREAM = os.environ["BENCH_UPSTREAM_URL"]  # the upstream's chat completions URL

app = Flask(__name__)
session = requests.Session()
# Naive but fair: a pool as large as freeseek's keeps every connection alive at any concurrency, and like
# freeseek (with no proxy in the environment) it skips the per-call proxy and .netrc look-ups.
session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=10000))
session.trust_env = False


@app.post("/v1/chat/completions")
def relay() -> Response:
    """Forward the body; stream the upstream's answer back with its status and content type."""
    upstream = session.post(UPSTREAM, data=request.get_data(), stream=True, timeout=(5, 300),
                            headers={"Content-Type": "application/json",
                                     "Authorization": request.headers.get("Authorization", "")})
    response = Response(upstream.iter_content(chunk_size=None), status=upstream.status_code,
                        content_type=upstream.headers.get("Content-Type"))
    response.call_on_close(upstream.close)  # a client that leaves early frees the upstream connection
    return response
