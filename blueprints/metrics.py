"""`GET /metrics`: Prometheus metrics of this worker (never a secret, a prompt or a token hash); and
`GET /metrics/web-drift`: the web chat's unknown shapes as JSON, for the page."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics():
    """Render the worker's metrics in Prometheus' text format."""
    registry = current_app.extensions["freeseek"].metrics.registry
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


@bp.get("/metrics/web-drift")
def web_drift():
    """List what the web chat sent that this worker's web provider does not know: kind, name, count, when."""
    return jsonify(current_app.extensions["freeseek"].web_drift.view())
