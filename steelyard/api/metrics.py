"""GET /metrics: Prometheus text exposition (admins only; a scraper sends an admin key as
X-Auth-Token or HTTP Basic password) of every load balancer, listener, pool and member
(counters, HTTP responses by status class, operating statuses), the health managers'
heartbeats, appliances by status, webhook deliveries by state, and, when this process keeps
them (Services.control_metrics), its API requests and reconciles, which `RequestCounter` and
the reconciler report, and its log pipeline's counters.
"""

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from steelyard.api.deps import AppDeps
from steelyard.api.services import ControlMetrics, services_of
from steelyard.db.metrics import DeploymentMetrics, Level, ObjectMetrics, deployment_metrics
from steelyard.model.enums import OperatingStatus
from steelyard.model.exposition import CONTENT_TYPE, Family, Kind, render
from steelyard.model.health import HEARTBEAT_OUTCOMES
from steelyard.model.webhook import DELIVERY_STATES

router = APIRouter()

# (metric name after steelyard_<level>_, kind, help, Traffic field)
TRAFFIC: tuple[tuple[str, Kind, str, str], ...] = (
    ("bytes_in_total", "counter", "Bytes received from clients", "bytes_in"),
    ("bytes_out_total", "counter", "Bytes sent to clients", "bytes_out"),
    ("connections_total", "counter", "Connections (sessions) handled", "total_connections"),
    ("active_connections", "gauge", "Connections open now", "active_connections"),
    ("request_errors_total", "counter", "Requests that failed (bad, refused)", "request_errors"),
    ("connection_errors_total", "counter", "Failed connections to members", "connection_errors"),
    ("response_errors_total", "counter", "Failed responses from members", "response_errors"),
    ("requests_total", "counter", "HTTP requests", "requests"),
)
CODES = ("1xx", "2xx", "3xx", "4xx", "5xx", "other")
LEVELS: tuple[Level, ...] = ("loadbalancer", "listener", "pool", "member")


def _traffic_families(level: Level, rows: list[ObjectMetrics]) -> list[Family]:
    families = []
    for suffix, kind, help_text, name in TRAFFIC:
        family = Family(f"steelyard_{level}_{suffix}", kind, help_text)
        for row in rows:
            family.add(getattr(row.traffic, name), **dict(row.labels))
        families.append(family)
    responses = Family(
        f"steelyard_{level}_http_responses_total", "counter", "HTTP responses, by status class"
    )
    for row in rows:
        for code in CODES:
            responses.add(getattr(row.traffic, f"hrsp_{code}"), **dict(row.labels), code=code)
    status = Family(
        f"steelyard_{level}_operating_status", "gauge", "1 for the current operating status"
    )
    for row in rows:
        for value in OperatingStatus:
            status.add(int(row.operating_status == value), **dict(row.labels), status=value)
    return [*families, responses, status]


def deployment_families(found: DeploymentMetrics) -> list[Family]:
    families = []
    for level in LEVELS:
        families += _traffic_families(level, found.objects[level])
    rejections = Family(
        "steelyard_listener_rejections_total", "counter", "Refused by protection, by reason"
    )
    for row in found.objects["listener"]:
        for reason, count in sorted(row.rejected.items()):
            rejections.add(count, **dict(row.labels), reason=reason)
    appliances = Family("steelyard_appliances", "gauge", "Appliances, by status")
    for status, count in sorted(found.appliances.items()):
        appliances.add(count, status=status)
    heartbeats = Family(
        "steelyard_heartbeats_total",
        "counter",
        "Heartbeat datagrams received by the health managers: accepted, or dropped and why",
    )
    for outcome in HEARTBEAT_OUTCOMES:
        heartbeats.add(getattr(found.heartbeats, outcome), outcome=outcome)
    breaker = Family(
        "steelyard_health_circuit_breaker_tripped", "gauge", "1 while failover is held back"
    )
    breaker.add(int(found.breaker_tripped))
    deliveries = Family(
        "steelyard_webhook_deliveries",
        "gauge",
        "Webhook deliveries by state; dead ones gave up and wait for an operator's retry",
    )
    for state in DELIVERY_STATES:
        deliveries.add(found.webhook_deliveries.get(state, 0), state=state)
    return [*families, rejections, appliances, heartbeats, breaker, deliveries]


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request, deps: AppDeps) -> PlainTextResponse:
    families = deployment_families(deps.read(deployment_metrics))
    control = services_of(request).control_metrics
    if control is not None:
        families += control.families()
    return PlainTextResponse(render(families), media_type=CONTENT_TYPE)


class RequestCounter:
    """ASGI middleware: every API answer, by method and status class, into the control-plane
    metrics."""

    def __init__(self, app: ASGIApp, control: ControlMetrics) -> None:
        self.app = app
        self.control = control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.control.api_request(scope["method"], int(message["status"]))
            await send(message)

        await self.app(scope, receive, counting_send)
