"""What the operator API reaches beyond the database, injected by the composition root
(steelyard.server.run): live diagnostics from the agents, the event stream, the log store...

Each is a Protocol here, so that api/ imports nothing of agent/, controller/ or telemetry/; a
field left None means this process does not offer it, and its endpoints answer 503 with
Octavia's error body. Tests build the app with the real implementations they need.
"""

from dataclasses import dataclass
from typing import Protocol

from fastapi import Request

from steelyard.model.diagnostics import (
    ApplianceDiagnostics,
    ConnectivityReport,
    ConnectivityRequest,
)
from steelyard.model.exposition import Family


class DiagnosticsUnavailable(Exception):
    """An appliance's diagnostics could not be had (its agent does not answer, does not know
    the appliance, ...); the message says why, in words for the operator."""


class Diagnostics(Protocol):
    """Live diagnostics from the agent of an appliance (by its name), raising
    DiagnosticsUnavailable when they cannot be had."""

    def appliance_diagnostics(self, appliance: str) -> ApplianceDiagnostics: ...

    def connectivity(self, appliance: str, request: ConnectivityRequest) -> ConnectivityReport: ...


class Webhooks(Protocol):
    """The webhook dispatcher (steelyard.telemetry.webhooks): whether it would send to a URL
    (the reason it would not, or None), and a nudge to send what was just queued. Without it
    webhooks are still stored and their deliveries queued, for a dispatcher elsewhere."""

    def check_url(self, url: str) -> str | None: ...

    def wake(self) -> None: ...


class ControlMetrics(Protocol):
    """The control plane's own metrics (steelyard.telemetry.control): the API reports each
    answer, /metrics shows them."""

    def api_request(self, method: str, status_code: int) -> None: ...

    def families(self) -> list[Family]: ...


@dataclass(frozen=True)
class Services:
    """One field per service (added by the feature that needs it, with its Protocol above)."""

    diagnostics: Diagnostics | None = None
    webhooks: Webhooks | None = None
    control_metrics: ControlMetrics | None = None


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
