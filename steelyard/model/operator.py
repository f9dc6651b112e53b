"""Bodies of the operator API (/v2/operator, admins only): deployment protection defaults,
per-load-balancer overrides and the "under attack" switch (issue 5), and the event log."""

from typing import Any, Literal, get_args

from steelyard.model.enums import ListenerProtocol
from steelyard.model.fields import Body, Out, Timestamp
from steelyard.model.listener_protection import GivenProtection
from steelyard.model.protection import Protection
from steelyard.model.spec import ProtectionSpec

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = get_args(Severity)


class ProtectionRoot(Body):
    """PUT .../protection/defaults and .../loadbalancers/{id}/protection: the whole object
    is replaced; {} means no defaults (no override: DELETE)."""

    protection: Protection


class UnderAttackRoot(Body):
    under_attack: bool


class DefaultsOut(Out):
    protection: GivenProtection
    updated_at: Timestamp | None


class ListenerProtectionOut(Out):
    id: str
    name: str
    protocol: ListenerProtocol
    protocol_port: int
    protection: GivenProtection  # the tenant's
    effective_protection: ProtectionSpec | None


class LoadBalancerProtectionOut(Out):
    """A load balancer's operator layers and what they make of each listener's settings."""

    loadbalancer_id: str
    project_id: str
    protection: GivenProtection  # the operator's override; null: none
    under_attack: bool
    listeners: list[ListenerProtectionOut]


class EventOut(Out):
    id: str
    created_at: Timestamp
    type: str
    severity: Severity
    loadbalancer_id: str | None
    project_id: str | None
    listener_id: str | None
    message: str
    details: dict[str, Any]


class OperatorEventOut(EventOut):
    """An event as operators see it (the log, the stream, webhooks): with what tenants don't."""

    operator_details: dict[str, Any] | None
