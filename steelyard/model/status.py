"""The status tree (`GET .../loadbalancers/{id}/status`) and statistics bodies."""

from typing import Any

from pydantic import Field, field_serializer

from steelyard.model.enums import HealthMonitorType, OperatingStatus, ProvisioningStatus
from steelyard.model.fields import Out


class _Status(Out):
    id: str
    name: str
    provisioning_status: ProvisioningStatus


class HealthMonitorStatus(_Status):
    type: HealthMonitorType


class MemberStatus(_Status):
    operating_status: OperatingStatus
    address: str
    protocol_port: int


class PoolStatus(_Status):
    operating_status: OperatingStatus
    healthmonitor: HealthMonitorStatus | None
    members: list[MemberStatus]

    @field_serializer("healthmonitor")
    def _empty_object(self, value: HealthMonitorStatus | None) -> dict[str, Any]:
        return {} if value is None else value.model_dump(mode="json")


class ListenerStatus(_Status):
    operating_status: OperatingStatus
    pools: list[PoolStatus]
    l7policies: list[Any] = Field(default_factory=list)


class LoadBalancerStatus(_Status):
    operating_status: OperatingStatus
    listeners: list[ListenerStatus]
    pools: list[PoolStatus]


class Stats(Out):
    bytes_in: int = 0
    bytes_out: int = 0
    active_connections: int = 0
    total_connections: int = 0
    request_errors: int = 0
    # Steelyard extension: what protection refused, per reason (deny_cidr, max_conn, ...)
    rejected: dict[str, int] = Field(default_factory=dict)
