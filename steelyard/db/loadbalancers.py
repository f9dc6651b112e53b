"""Load balancers: list, show, create (also fully populated), update, delete (cascade)."""

import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db import views
from steelyard.db.access import (
    COMMON_DEFAULTS,
    PENDING_CREATE,
    PENDING_DELETE,
    Written,
    open_write,
    update_row,
    utcnow,
)
from steelyard.db.flavors import placement
from steelyard.db.listing import attributes, list_visible, show_visible
from steelyard.db.quotas import within_quota
from steelyard.db.tree import OFFLINE, add_tree
from steelyard.db.vip import add_with_vip, choose_subnet
from steelyard.model.enums import Topology
from steelyard.model.faults import BadRequest, ValidationFailure
from steelyard.model.listing import ListQuery
from steelyard.model.loadbalancer import (
    LoadBalancerCreate,
    LoadBalancerFull,
    LoadBalancerOut,
    LoadBalancerUpdate,
)

ATTRIBUTES = attributes(views.LB_FIELDS)


def list_loadbalancers(
    session: Session, scope: str | None, query: ListQuery
) -> list[LoadBalancerOut]:
    T = m.LoadBalancer
    return list_visible(session, T, scope, query, ATTRIBUTES, views.loadbalancers)


def get_loadbalancer(session: Session, scope: str | None, ident: str) -> LoadBalancerOut:
    return show_visible(session, m.LoadBalancer, scope, ident, views.loadbalancers)


def create_loadbalancer(
    session: Session,
    body: LoadBalancerCreate,
    project_id: str,
    default_network: str,
    default_topology: Topology = Topology.SINGLE,
    topologies: frozenset[Topology] = frozenset(Topology),
) -> Written[LoadBalancerOut | LoadBalancerFull]:
    """The flavor's shape (else the default topology) is copied: later flavor edits leave
    this load balancer as it is. `topologies`: those this deployment's appliances can run."""
    chosen = placement(
        session, body.flavor_id, body.provider, body.availability_zone, default_topology
    )
    if chosen.provider == "appliance" and chosen.shape.topology not in topologies:
        raise BadRequest(
            f"Topology {chosen.shape.topology.value} is not available in this deployment "
            f"(it runs {', '.join(sorted(t.value for t in topologies))})."
        )
    subnet = choose_subnet(
        session,
        project_id,
        body.vip_subnet_id,
        body.vip_network_id,
        body.vip_address,
        default_network,
    )
    now = utcnow()
    lb = m.LoadBalancer(
        id=str(uuid.uuid4()),
        project_id=project_id,
        name=body.name or "",
        description=body.description or "",
        admin_state_up=body.admin_state_up,
        provisioning_status=PENDING_CREATE,
        operating_status=OFFLINE,
        tags=list(body.tags),
        vip_port_id=str(uuid.uuid4()),
        provider=chosen.provider,
        flavor_id=body.flavor_id,
        availability_zone=body.availability_zone,
        topology=chosen.shape.topology.value,
        appliance_count=chosen.shape.appliance_count,
        created_at=now,
        desired_generation=1,
        applied_generation=0,
        deleting=False,
    )
    with within_quota(session, project_id):
        add_with_vip(session, lb, subnet, body.vip_address)
        add_tree(session, lb, body.listeners, body.pools, now)
    session.flush()
    result: LoadBalancerOut | LoadBalancerFull
    if body.fully_populated:
        result = views.loadbalancer_full(session, lb)
    else:
        result = views.loadbalancers(session, [lb])[0]
    return Written(result, lb.id)


def update_loadbalancer(
    session: Session, scope: str | None, ident: str, body: LoadBalancerUpdate
) -> Written[LoadBalancerOut]:
    lb = update_row(session, m.LoadBalancer, ident, scope, body, COMMON_DEFAULTS).row
    return Written(views.loadbalancers(session, [lb])[0], lb.id)


def _live(session: Session, table: type[m.Listener] | type[m.Pool], lb_id: str) -> bool:
    query = select(table.id).where(
        table.loadbalancer_id == lb_id, table.provisioning_status != PENDING_DELETE
    )
    return session.scalar(query.limit(1)) is not None


def delete_loadbalancer(
    session: Session, scope: str | None, ident: str, cascade: bool
) -> Written[None]:
    """Mark the load balancer and (cascade) its children PENDING_DELETE; the reconciler tears
    down the data plane and then removes the rows."""
    opened = open_write(session, m.LoadBalancer, ident, scope)  # 409 if already being deleted
    lb = opened.row
    if not cascade and (_live(session, m.Listener, lb.id) or _live(session, m.Pool, lb.id)):
        raise ValidationFailure(f"Cannot delete Load Balancer {lb.id} - it has children")
    lb.deleting = True
    lb.provisioning_status = PENDING_DELETE
    pool_ids = select(m.Pool.id).where(m.Pool.loadbalancer_id == lb.id).scalar_subquery()
    doomed = {"provisioning_status": PENDING_DELETE, "updated_at": opened.now}
    for table, parent in (
        (m.Member, m.Member.pool_id.in_(pool_ids)),
        (m.HealthMonitor, m.HealthMonitor.pool_id.in_(pool_ids)),
        (m.Listener, m.Listener.loadbalancer_id == lb.id),
        (m.Pool, m.Pool.loadbalancer_id == lb.id),
    ):
        session.execute(
            update(table)
            .where(parent, table.provisioning_status != PENDING_DELETE)
            .values(doomed)
            .execution_options(synchronize_session=False)
        )
    return Written(None, lb.id)
