"""GET /metrics: Prometheus text exposition of every listener's counters (admins only; a
scraper sends an admin key as X-Auth-Token or HTTP Basic password)."""

from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from steelyard.api.deps import AppDeps
from steelyard.db.metrics import ListenerMetrics, listener_metrics

router = APIRouter()

_COUNTERS: tuple[tuple[str, str, str, Callable[[ListenerMetrics], int]], ...] = (
    ("steelyard_listener_bytes_in_total", "counter", "Bytes from clients", lambda r: r.bytes_in),
    ("steelyard_listener_bytes_out_total", "counter", "Bytes to clients", lambda r: r.bytes_out),
    (
        "steelyard_listener_connections_total",
        "counter",
        "Connections accepted",
        lambda r: r.total_connections,
    ),
    (
        "steelyard_listener_active_connections",
        "gauge",
        "Connections open now",
        lambda r: r.active_connections,
    ),
    (
        "steelyard_listener_request_errors_total",
        "counter",
        "Request errors",
        lambda r: r.request_errors,
    ),
)
REJECTIONS = "steelyard_listener_rejections_total"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(row: ListenerMetrics, **extra: str) -> str:
    pairs = {
        "loadbalancer_id": row.loadbalancer_id,
        "listener_id": row.listener_id,
        "project_id": row.project_id,
        **extra,
    }
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in pairs.items()) + "}"


def exposition(rows: list[ListenerMetrics]) -> str:
    lines: list[str] = []
    for name, kind, help_text, value in _COUNTERS:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        lines += [f"{name}{_labels(row)} {value(row)}" for row in rows]
    lines += [
        f"# HELP {REJECTIONS} Refused by protection, by reason",
        f"# TYPE {REJECTIONS} counter",
    ]
    lines += [
        f"{REJECTIONS}{_labels(row, reason=reason)} {count}"
        for row in rows
        for reason, count in sorted(row.rejected.items())
    ]
    return "\n".join(lines) + "\n"


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(deps: AppDeps) -> PlainTextResponse:
    rows = deps.read(listener_metrics)
    return PlainTextResponse(exposition(rows), media_type="text/plain; version=0.0.4")
