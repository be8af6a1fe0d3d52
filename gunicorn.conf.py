# Worker settings only; this file runs in the master, so it imports nothing of ours (docs/serving.md).
import os

# gevent's worker, with a lingering close after the errors gunicorn answers itself (worker.py: a client still
# sending an oversized request reads the 431 instead of a connection reset). Named, not imported.
worker_class = "worker.LingeringGeventWorker"
# One gevent worker holds thousands of streams, and without shared state a second worker would split each
# account's queue and conversation memory in two: several workers only with FREESEEK_REDIS_URL.
_asked = int(os.environ.get("WEB_CONCURRENCY", 1) or 1)
_shared = bool(os.environ.get("FREESEEK_REDIS_URL", "").strip())
workers = _asked if _shared else 1
# Open connections one gevent worker holds; each long stream is one.
worker_connections = int(os.environ.get("FREESEEK_WORKER_CONNECTIONS", 10000))
bind = "0.0.0.0:" + os.environ.get("PORT", "8000")
# A heartbeat between master and worker, not a request limit: streams may last an hour.
timeout = 30
# Heroku kills 30 s after SIGTERM, Render likewise: finish streams or stop before that.
graceful_timeout = 20
keepalive = 75
# A worker restart would cut every stream it holds.
max_requests = 0
# The gevent worker must patch before the app is imported.
preload_app = False
control_socket_disable = True
# gunicorn's own errors are HTML pages that never reach our JSON handlers, so its limits sit where no honest
# request meets them. A Bearer header of many tokens is one field: 128 KiB holds about 3,000 API keys or
# 1,000 web tokens (the default 8190 bytes held about 220). The request line gets gunicorn's maximum (8190).
limit_request_field_size = int(os.environ.get("FREESEEK_MAX_HEADER_BYTES", 131072))
limit_request_line = 8190
limit_request_fields = 100
accesslog = None
errorlog = "-"
loglevel = os.environ.get("FREESEEK_LOG_LEVEL", "info").lower()


def on_starting(server):
    """Say why fewer workers run than WEB_CONCURRENCY asked for."""
    if _asked > 1 and not _shared:
        server.log.info("WEB_CONCURRENCY=%d asks for %d workers; running 1: state is in memory, and two workers "
                        "would split each account's queue and conversations (set FREESEEK_REDIS_URL to share "
                        "state and run several)", _asked, _asked)


def post_worker_init(worker):
    """On SIGTERM, let answers finish within the grace period and cancel the rest (services/gateway.py); with
    FREESEEK_GC_LOG, log the collector's pauses."""
    gateway = worker.wsgi.extensions.get("freeseek") if hasattr(worker.wsgi, "extensions") else None
    if gateway is not None:
        gateway.watch_shutdown(lambda: worker.alive, worker.cfg.graceful_timeout)
    # Opt-in: the collector's pauses and the open streams of this worker, a line a second (services/gc_watch.py).
    gc_log = os.environ.get("FREESEEK_GC_LOG", "").strip()
    if gc_log and gateway is not None:
        from services import gc_watch
        gc_watch.start(gc_log, lambda: gc_watch.gauge_total(gateway.metrics.streams_open))


def worker_exit(server, worker):
    """Cancel what still runs and free this worker's account leases before the process ends."""
    gateway = getattr(getattr(worker, "wsgi", None), "extensions", {}).get("freeseek")
    if gateway is not None:
        gateway.shutdown()
