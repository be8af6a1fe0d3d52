"""`GET /metrics`: Prometheus metrics of this worker (never a secret, a prompt or a token hash)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics():
    """Render the worker's metrics in Prometheus' text format."""
    registry = current_app.extensions["freeseek"].metrics.registry
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
