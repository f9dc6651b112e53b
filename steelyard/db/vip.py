"""Where a new load balancer's VIP goes: the subnet (from vip_subnet_id, vip_network_id or the
default network) and a free address in it (steelyard.network.ipam), unique per subnet."""

import ipaddress

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.appliances import addresses_in_use
from steelyard.db.networks import network_by_name, subnets_of, visible_network, visible_subnet
from steelyard.model.faults import BadRequest, Conflict, NotFound, ValidationFailure
from steelyard.network import ipam

ATTEMPTS = 5


def _invalid(exc: NotFound) -> BadRequest:
    """Octavia validates referenced networks and subnets with 400, not 404."""
    return BadRequest(exc.faultstring)


def _containing(subnets: list[m.Subnet], address: str | None) -> m.Subnet | None:
    if address is None:  # prefer IPv4, like Octavia
        return next((s for s in subnets if s.ip_version == 4), subnets[0] if subnets else None)
    ip = ipaddress.ip_address(address)
    return next((s for s in subnets if ip in ipaddress.ip_network(s.cidr)), None)


def choose_subnet(
    session: Session,
    project_id: str,
    subnet_id: str | None,
    network_id: str | None,
    address: str | None,
    default_network: str,
) -> m.Subnet:
    try:
        if subnet_id is not None:
            subnet = visible_subnet(session, subnet_id, project_id)
            if network_id is not None and subnet.network_id != network_id:
                raise ValidationFailure(
                    f"Subnet {subnet_id} does not belong to network {network_id}."
                )
            return subnet
        if network_id is not None:
            network = visible_network(session, network_id, project_id)
        else:
            default = network_by_name(session, default_network)
            if default is None:
                raise ValidationFailure(
                    "VIP must contain one of: vip_network_id, vip_subnet_id "
                    f"(there is no default network {default_network!r})."
                )
            network = default
    except NotFound as exc:
        raise _invalid(exc) from None
    found = _containing(subnets_of(session, network.id), address)
    if found is None and address is not None:
        raise BadRequest(
            f"IP address {address} is not a valid IP for any of the subnets on the specified "
            "network."
        )
    if found is None:
        raise ValidationFailure(f"Network {network.id} has no subnet.")
    return found


def add_with_vip(
    session: Session, lb: m.LoadBalancer, subnet: m.Subnet, requested: str | None
) -> None:
    """Give `lb` an address of `subnet` and insert it. A concurrent create that took the same
    address trips the uq_lb_vip constraint: try the next free one (or 409 if it was asked for).
    """
    lb.vip_subnet_id, lb.vip_network_id = subnet.id, subnet.network_id
    taken: set[str] = set()
    for _ in range(ATTEMPTS):
        used = [*addresses_in_use(session, subnet), *taken]
        try:
            if requested is None:
                lb.vip_address = ipam.allocate(subnet.cidr, gateway=subnet.gateway_ip, used=used)
            else:
                lb.vip_address = ipam.validate(
                    subnet.cidr, requested, gateway=subnet.gateway_ip, used=used
                )
        except ipam.AddressOutOfRange:
            raise BadRequest(
                f"IP address {requested} is not a valid IP for the specified subnet."
            ) from None
        except ipam.AddressInUse:
            raise Conflict(
                f"IP address {requested} already allocated in subnet {subnet.id}."
            ) from None
        except ipam.SubnetExhausted:
            raise Conflict(
                f"No more IP addresses available on network {subnet.network_id}."
            ) from None
        try:
            with session.begin_nested():
                session.add(lb)
                session.flush()
            return
        except IntegrityError:
            if requested is not None:
                raise Conflict(
                    f"IP address {requested} already allocated in subnet {subnet.id}."
                ) from None
            taken.add(lb.vip_address)
    raise Conflict(f"No more IP addresses available on network {subnet.network_id}.")
