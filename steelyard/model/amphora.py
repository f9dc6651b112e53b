"""Octavia's amphora shape, for Steelyard's appliances (`/v2/octavia/amphorae`)."""

from datetime import datetime

from pydantic import BaseModel

# Steelyard's appliance statuses in Octavia's amphora vocabulary.
AMPHORA_STATUS = {
    "BOOTING": "BOOTING",
    "READY": "READY",
    "ALLOCATED": "ALLOCATED",
    "RETIRING": "PENDING_DELETE",  # being replaced; still serving
    "FAILED": "ERROR",
    "ERROR": "ERROR",
    "DELETED": "DELETED",
}


def appliance_statuses(shown: str) -> list[str]:
    """The appliance statuses an amphora status filter stands for (ERROR: FAILED too)."""
    return [ours for ours, octavia in AMPHORA_STATUS.items() if octavia == shown] or [shown]


class Amphora(BaseModel):
    id: str
    loadbalancer_id: str | None
    compute_id: str | None  # the appliance's network namespace (or None on the host)
    lb_network_ip: str | None  # where its agent is reached (None until placed)
    vrrp_ip: str | None
    ha_ip: str | None  # the VIP it serves
    vrrp_port_id: str | None
    ha_port_id: str | None
    cert_expiration: datetime | None  # its agent's TLS server certificate
    cert_busy: bool
    role: str | None
    status: str
    vrrp_interface: str | None
    vrrp_id: int | None
    vrrp_priority: int | None
    cached_zone: str | None
    created_at: datetime
    updated_at: datetime | None
    image_id: str | None  # no images: appliances are namespaces or processes
    compute_flavor: str | None
    # Steelyard's additions
    name: str
    host: str
    last_heartbeat_at: datetime | None
    failed_reason: str | None
    agent_version: str | None  # as its agent reported at its last placement
    haproxy_version: str | None
