"""What operators see of a load balancer and its appliances (GET /v2/operator/loadbalancers,
/v2/operator/appliances): the tenant's objects with the tenant's IDs and statuses, and the
device detail added."""

from pydantic import SerializeAsAny

from steelyard.model.amphora import Amphora
from steelyard.model.fields import Out, Timestamp
from steelyard.model.lb_health import HealthSummary
from steelyard.model.loadbalancer import LoadBalancerOut
from steelyard.model.operator import EventOut


class OperatorAppliance(Amphora):
    """An appliance as the amphora API shows it (same id, Octavia's status), plus where its
    configuration and heartbeats stand."""

    project_id: str | None  # its load balancer's; None for a spare
    vrrp_state: str | None  # MASTER or BACKUP as keepalived last reported (ACTIVE_STANDBY)
    applied_generation: int  # the config generation the appliance runs (0: none yet)
    desired_generation: int | None  # its load balancer's
    config_in_sync: bool | None  # applied == desired (None for a spare)
    config_sha256: str | None
    heartbeat_age_s: float | None  # seconds since its last heartbeat; None: never


class ProvisioningErrors(Out):
    """The reconciler's last failure to apply this load balancer (cleared by a success)."""

    last_error: str | None
    failed_attempts: int
    next_attempt_at: Timestamp | None


class OperatorLoadBalancer(LoadBalancerOut):
    """GET /v2/operator/loadbalancers/{id}: the tenant's object, then the operator's view."""

    topology: str
    desired_generation: int
    applied_generation: int
    appliances: list[OperatorAppliance]
    recent_events: list[SerializeAsAny[EventOut]]  # newest first
    errors: ProvisioningErrors
    health: HealthSummary


class ApplianceTally(Out):
    expected: int  # what the topology asks for
    total: int
    by_status: dict[str, int]  # Octavia's amphora statuses


class OperatorLoadBalancerListed(LoadBalancerOut):
    """An item of GET /v2/operator/loadbalancers (every project's)."""

    topology: str
    appliance_counts: ApplianceTally
