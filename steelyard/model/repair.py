"""Repair actions and hosts of the operator API (issue 4), as bodies and answers.

- POST /v2/operator/loadbalancers/{id}/failover|resync   no body
- POST /v2/operator/loadbalancers/{id}/migrate           {"availability_zone": ..., "host": ...}
- POST /v2/operator/loadbalancers/{id}/resize            {"flavor_id": ...}
- GET  /v2/operator/hosts[/{name}], POST /v2/operator/hosts/{name}/drain|undrain
"""

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import model_validator

from steelyard.model.fields import Body, Out, Text, Timestamp, Uuid, matching

# as a zone's host_group (model/provider.py), which names a group of these hosts
HOST_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"
HOST_NAME_RULE = "1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit"
HostName = Annotated[str, matching(HOST_NAME_PATTERN, HOST_NAME_RULE)]
RepairAction = Literal["failover", "resync", "migrate", "resize"]
HostState = Literal["ACTIVE", "DRAINING", "UNDECLARED"]
MAX_CAPACITY = 100_000


class MigrateRequest(Body):
    """Where the load balancer's appliances go: another availability zone, a host, or both."""

    availability_zone: Text | None = None
    host: HostName | None = None

    @model_validator(mode="after")
    def _some_target(self) -> "MigrateRequest":
        if self.availability_zone is None and self.host is None:
            raise ValueError("give availability_zone, host or both")
        return self


class ResizeRequest(Body):
    flavor_id: Uuid


class RepairOut(Out):
    id: str
    loadbalancer_id: str
    action: RepairAction
    # done once the load balancer's applied generation reaches it (an event says so)
    generation: int
    appliances: list[str]  # the appliances replaced one at a time (none for a resync)
    created_at: Timestamp


class RepairRoot(Out):
    repair: RepairOut


class HostOut(Out):
    name: str
    id: str  # the name, as list pages key on it
    state: HostState
    capacity: int | None  # appliances; null: no limit
    appliances: int
    loadbalancers: int
    host_group: str | None
    availability_zones: list[str]  # the zones whose profile names its host group
    created_at: Timestamp
    updated_at: Timestamp | None


class HostRoot(Out):
    host: HostOut


@dataclass(frozen=True)
class HostDeclaration:
    """`serve --host NAME[:CAPACITY][@HOST_GROUP]`."""

    name: str
    capacity: int | None = None
    host_group: str | None = None


def parse_host(text: str) -> HostDeclaration:
    """`a`, `a:40`, `a@rack1`, `a:40@rack1`; ValueError says what is wrong."""
    rest, _, group = text.partition("@")
    name, colon, capacity = rest.partition(":")
    if not re.fullmatch(HOST_NAME_PATTERN, name):
        raise ValueError(f"host name {name!r}: {HOST_NAME_RULE}")
    if group and not re.fullmatch(HOST_NAME_PATTERN, group):
        raise ValueError(f"host group {group!r}: {HOST_NAME_RULE}")
    if colon and not (re.fullmatch(r"[0-9]{1,6}", capacity) and 1 <= int(capacity) <= MAX_CAPACITY):
        raise ValueError(f"capacity {capacity!r}: a whole number from 1 to {MAX_CAPACITY}")
    return HostDeclaration(name, int(capacity) if colon else None, group or None)
