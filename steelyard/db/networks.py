"""VIP networks and their subnets (shared networks are visible to every project)."""

import ipaddress
import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.access import utcnow
from steelyard.model.faults import Conflict, NotFound, ValidationFailure
from steelyard.model.network import NetworkCreate, NetworkOut, SubnetCreate, SubnetOut
from steelyard.network import ipam

OWNER = "steelyard"  # project of the networks the server makes for itself


def _visible(project_id: str | None) -> list[ColumnElement[bool]]:
    """`project_id` None: an admin sees every network."""
    if project_id is None:
        return []
    return [or_(m.Network.shared.is_(True), m.Network.project_id == project_id)]


def _subnet_out(row: m.Subnet) -> SubnetOut:
    return SubnetOut(
        id=row.id,
        name=row.name,
        network_id=row.network_id,
        cidr=row.cidr,
        gateway_ip=row.gateway_ip,
        ip_version=row.ip_version,
        created_at=row.created_at,
    )


def _subnets_of(session: Session, network_ids: Sequence[str]) -> list[m.Subnet]:
    query = select(m.Subnet).where(m.Subnet.network_id.in_(network_ids))
    return list(session.scalars(query.order_by(m.Subnet.created_at, m.Subnet.id)))


def _network_outs(session: Session, rows: Sequence[m.Network]) -> list[NetworkOut]:
    subnets = _subnets_of(session, [row.id for row in rows])
    return [
        NetworkOut(
            id=row.id,
            name=row.name,
            shared=row.shared,
            kind=row.kind,
            bridge=row.bridge,
            subnets=[_subnet_out(s) for s in subnets if s.network_id == row.id],
            created_at=row.created_at,
        )
        for row in rows
    ]


def visible_network(session: Session, ident: str, project_id: str | None) -> m.Network:
    row = session.scalar(select(m.Network).where(m.Network.id == ident, *_visible(project_id)))
    if row is None:
        raise NotFound("Network", ident)
    return row


def visible_subnet(session: Session, ident: str, project_id: str | None) -> m.Subnet:
    row = session.scalar(
        select(m.Subnet)
        .join(m.Network, m.Network.id == m.Subnet.network_id)
        .where(m.Subnet.id == ident, *_visible(project_id))
    )
    if row is None:
        raise NotFound("Subnet", ident)
    return row


def network_by_name(session: Session, name: str) -> m.Network | None:
    return session.scalar(select(m.Network).where(m.Network.name == name))


def subnets_of(session: Session, network_id: str) -> list[m.Subnet]:
    return _subnets_of(session, [network_id])


def list_networks(session: Session, project_id: str | None) -> list[NetworkOut]:
    query = select(m.Network).where(*_visible(project_id))
    return _network_outs(session, session.scalars(query.order_by(m.Network.name)).all())


def get_network(session: Session, ident: str, project_id: str | None) -> NetworkOut:
    return _network_outs(session, [visible_network(session, ident, project_id)])[0]


def list_subnets(session: Session, project_id: str | None) -> list[SubnetOut]:
    query = (
        select(m.Subnet)
        .join(m.Network, m.Network.id == m.Subnet.network_id)
        .where(*_visible(project_id))
        .order_by(m.Subnet.created_at, m.Subnet.id)
    )
    return [_subnet_out(row) for row in session.scalars(query)]


def get_subnet(session: Session, ident: str, project_id: str | None) -> SubnetOut:
    return _subnet_out(visible_subnet(session, ident, project_id))


def create_network(session: Session, body: NetworkCreate, owner: str = OWNER) -> NetworkOut:
    if network_by_name(session, body.name) is not None:
        raise Conflict(f"Network name {body.name} is already in use.")
    row = m.Network(
        id=str(uuid.uuid4()),
        name=body.name,
        project_id=owner,
        shared=body.shared,
        kind=body.kind,
        bridge=body.bridge,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return _network_outs(session, [row])[0]


def _check_unused(session: Session, what: str, ident: str, *where: ColumnElement[bool]) -> None:
    if session.scalar(select(m.LoadBalancer.id).where(*where).limit(1)) is not None:
        raise Conflict(f"{what} {ident} is in use by a load balancer.")


def delete_network(session: Session, ident: str) -> None:
    row = visible_network(session, ident, None)
    _check_unused(session, "Network", ident, m.LoadBalancer.vip_network_id == ident)
    session.execute(delete(m.Subnet).where(m.Subnet.network_id == ident))
    session.delete(row)


def create_subnet(session: Session, body: SubnetCreate) -> SubnetOut:
    network = visible_network(session, body.network_id, None)
    new = ipaddress.ip_network(body.cidr)
    for other in subnets_of(session, network.id):
        if new.overlaps(ipaddress.ip_network(other.cidr)):
            raise Conflict(f"Subnet {body.cidr} overlaps {other.cidr} of network {network.id}.")
    if body.gateway_ip is None:
        gateway = ipam.default_gateway(body.cidr)
    else:
        try:
            gateway = ipam.validate(body.cidr, body.gateway_ip, gateway=None)
        except ipam.IpamError as exc:
            raise ValidationFailure(f"gateway_ip: {exc}") from None
    row = m.Subnet(
        id=str(uuid.uuid4()),
        network_id=network.id,
        name=body.name or "",
        cidr=str(new),
        gateway_ip=gateway,
        ip_version=new.version,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return _subnet_out(row)


def delete_subnet(session: Session, ident: str) -> None:
    row = visible_subnet(session, ident, None)
    _check_unused(session, "Subnet", ident, m.LoadBalancer.vip_subnet_id == ident)
    session.delete(row)


def ensure_default_network(
    session: Session, name: str, cidr: str, kind: str, bridge: str | None
) -> None:
    """Make sure the network the server puts VIPs on by default exists, with one subnet
    (gateway: its first host). Idempotent; the caller commits."""
    network = network_by_name(session, name)
    if network is None:
        body = NetworkCreate.model_validate(
            {"name": name, "kind": kind, "bridge": bridge}, strict=False
        )
        network_id = create_network(session, body).id
    else:
        network_id = network.id
    if not subnets_of(session, network_id):
        create_subnet(session, SubnetCreate(network_id=network_id, cidr=cidr))
