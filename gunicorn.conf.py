# Worker settings only; this file runs in the master, so it imports nothing of ours (docs/serving.md).
import os

worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", 1))
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
