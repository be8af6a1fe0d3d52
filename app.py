"""The application factory: settings, services, blueprints, error handlers."""

from __future__ import annotations

import logging

from flask import Flask, Response

from blueprints import chat, errors, health, messages, metrics, models, page, responses, tokens
from blueprints.cors import init_cors
from blueprints.paths import GatewayFlask, init_paths
from services.gateway import Gateway
from services.settings import Settings
from services.store.state import open_state


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app from the environment (or `test_config["env"]`), one Gateway per worker."""
    test_config = test_config or {}
    settings = Settings.from_env(test_config.get("env"))
    _configure_logging(settings.log_level)
    app = GatewayFlask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["freeseek"] = Gateway(settings, test_config.get("providers"), open_state(settings))
    for blueprint in (errors.bp, chat.bp, messages.bp, responses.bp, models.bp, tokens.bp, health.bp, page.bp,
                      metrics.bp):
        app.register_blueprint(blueprint)
    init_cors(app, settings.cors_origins)
    init_paths(app)
    app.after_request(_unbuffered)
    return app


def _unbuffered(response: Response) -> Response:
    """Tell nginx not to buffer: a slow answer's keep-alives, and every stream, must reach the client as sent."""
    response.headers.setdefault("X-Accel-Buffering", "no")
    return response


def _configure_logging(level: str) -> None:
    """Send our log lines to stderr (gunicorn's error log) unless logging is already set up."""
    logger = logging.getLogger("freeseek")
    logger.setLevel(level.upper())
    # No log format here or in gunicorn's names the thread or the multiprocessing process, and looking them up
    # (under gevent, a dummy Thread object for every greenlet that logs) was half the cost of a log line.
    logging.logThreads = False
    logging.logMultiprocessing = False
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
