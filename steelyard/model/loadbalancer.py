"""Load balancer request and response bodies (Octavia v2 `loadbalancer`)."""

from typing import Annotated

from pydantic import Field

from steelyard.model.fields import (
    Body,
    DescribedCreate,
    DescribedOut,
    DescribedUpdate,
    IdRef,
    IPAddress,
    ProjectId,
    Text,
    Uuid,
)
from steelyard.model.listener import ListenerFull, ListenerSingleCreate
from steelyard.model.options import Absent
from steelyard.model.pool import PoolFull, PoolSingleCreate


class LoadBalancerCreate(DescribedCreate):
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
    provider: Text | None = None  # a known provider (model/provider.py), else 400
    flavor_id: Uuid | None = None
    availability_zone: Text | None = None

    @property
    def fully_populated(self) -> bool:
        return bool(self.listeners or self.pools)


class LoadBalancerCreateRoot(Body):
    loadbalancer: LoadBalancerCreate


class LoadBalancerUpdate(DescribedUpdate):
    vip_qos_policy_id: Absent = None


class LoadBalancerUpdateRoot(Body):
    loadbalancer: LoadBalancerUpdate


class _LoadBalancerBase(DescribedOut):
    vip_address: str
    vip_port_id: str
    vip_subnet_id: str
    vip_network_id: str
    vip_qos_policy_id: None = None
    provider: str
    flavor_id: str | None
    availability_zone: str | None
    additional_vips: list[str] = Field(default_factory=list)


class LoadBalancerOut(_LoadBalancerBase):
    listeners: list[IdRef]
    pools: list[IdRef]


class LoadBalancerFull(_LoadBalancerBase):
    """The response to a fully populated create: children expanded."""

    listeners: list[ListenerFull]
    pools: list[PoolFull]
