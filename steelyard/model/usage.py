"""Usage for billing (GET /v2/operator/usage): load-balancer-hours and bytes per project and
load balancer, over whole hours."""

from datetime import datetime

from pydantic import BaseModel


class LoadBalancerUsage(BaseModel):
    loadbalancer_id: str
    loadbalancer_hours: float  # seconds it existed in the range / 3600
    bytes_in: int  # from clients, over all its listeners
    bytes_out: int  # to clients


class ProjectUsage(BaseModel):
    project_id: str
    loadbalancer_hours: float
    bytes_in: int
    bytes_out: int
    loadbalancers: list[LoadBalancerUsage]  # also those deleted since


class UsageReport(BaseModel):
    start: datetime  # hours starting at or after this (UTC)...
    end: datetime  # ...and before this
    projects: list[ProjectUsage]


class UsageRoot(BaseModel):
    usage: UsageReport
