"""What the operator's diagnostics need from the database: a load balancer's appliances and
pools (members and monitors, as the reconciler renders them), or one appliance."""

from dataclasses import dataclass

from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.snapshot import ApplianceRecord, load_snapshot
from steelyard.model.faults import NotFound
from steelyard.model.spec import PoolSpec

GONE = ("DELETED",)  # appliance statuses with nothing left to ask


@dataclass(frozen=True)
class DiagnosedLoadBalancer:
    id: str
    project_id: str | None
    provisioning_status: str
    operating_status: str
    topology: str
    provider: str
    desired_generation: int
    applied_generation: int
    appliances: tuple[ApplianceRecord, ...]
    pools: tuple[PoolSpec, ...]


def diagnosed_loadbalancer(session: Session, lb_id: str) -> DiagnosedLoadBalancer:
    lb = session.get(m.LoadBalancer, lb_id)
    snapshot = load_snapshot(session, lb_id) if lb is not None else None
    if lb is None or snapshot is None:
        raise NotFound("Load Balancer", lb_id)
    return DiagnosedLoadBalancer(
        id=lb.id,
        project_id=lb.project_id,
        provisioning_status=lb.provisioning_status,
        operating_status=lb.operating_status,
        topology=lb.topology,
        provider=lb.provider,
        desired_generation=lb.desired_generation,
        applied_generation=lb.applied_generation,
        appliances=tuple(a for a in snapshot.appliances if a.status not in GONE),
        pools=snapshot.spec.pools,
    )


def diagnosed_appliance(session: Session, appliance_id: str) -> tuple[ApplianceRecord, str | None]:
    """The appliance and its load balancer's id (None: a spare)."""
    row = session.get(m.Appliance, appliance_id)
    if row is None:
        raise NotFound("Amphora", appliance_id)
    record = ApplianceRecord(
        id=row.id,
        name=row.name,
        slot=row.slot,
        status=row.status,
        netns=row.netns,
        applied_generation=row.applied_generation,
        config_sha256=row.config_sha256,
        role=row.role,
        host=row.host,
        own_address=row.vrrp_ip,
    )
    return record, row.loadbalancer_id
