"""Load balancer request and response bodies (Octavia v2 `loadbalancer`)."""

from typing import Annotated, Literal

from pydantic import Field

from steelyard.model.enums import OperatingStatus, ProvisioningStatus
from steelyard.model.fields import (
    Body,
    IdRef,
    IPAddress,
    Out,
    ProjectId,
    Tags,
    Text,
    Timestamp,
    Uuid,
)
from steelyard.model.listener import ListenerFull, ListenerSingleCreate
from steelyard.model.options import Absent
from steelyard.model.pool import PoolFull, PoolSingleCreate

PROVIDER = "appliance"


class LoadBalancerCreate(Body):
    name: Text | None = None
    description: Text | None = None
    admin_state_up: bool = True
    vip_address: IPAddress | None = None
    vip_subnet_id: Uuid | None = None
    vip_network_id: Uuid | None = None
    vip_port_id: Absent = None
    vip_qos_policy_id: Absent = None
    vip_sg_ids: Absent = None
    additional_vips: Absent = None
    project_id: ProjectId | None = None
    listeners: Annotated[list[ListenerSingleCreate], Field(max_length=100)] = Field(
        default_factory=list
    )
    pools: Annotated[list[PoolSingleCreate], Field(max_length=100)] = Field(default_factory=list)
    provider: Literal["appliance"] | None = None
    flavor_id: Uuid | None = None
    availability_zone: Text | None = None
    tags: Tags = Field(default_factory=list)

    @property
    def fully_populated(self) -> bool:
        return bool(self.listeners or self.pools)


class LoadBalancerCreateRoot(Body):
    loadbalancer: LoadBalancerCreate


class LoadBalancerUpdate(Body):
    name: Text | None = None
    description: Text | None = None
    admin_state_up: bool | None = None
    vip_qos_policy_id: Absent = None
    tags: Tags | None = None


class LoadBalancerUpdateRoot(Body):
    loadbalancer: LoadBalancerUpdate


class _LoadBalancerBase(Out):
    id: str
    name: str
    description: str
    provisioning_status: ProvisioningStatus
    operating_status: OperatingStatus
    admin_state_up: bool
    project_id: str
    created_at: Timestamp
    updated_at: Timestamp | None
    vip_address: str
    vip_port_id: str
    vip_subnet_id: str
    vip_network_id: str
    vip_qos_policy_id: None = None
    provider: str
    flavor_id: str | None
    availability_zone: str | None
    tags: list[str]
    additional_vips: list[str] = Field(default_factory=list)


class LoadBalancerOut(_LoadBalancerBase):
    listeners: list[IdRef]
    pools: list[IdRef]


class LoadBalancerFull(_LoadBalancerBase):
    """The response to a fully populated create: children expanded."""

    listeners: list[ListenerFull]
    pools: list[PoolFull]
