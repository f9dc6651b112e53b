"""Octavia v2 resources, one module each, and Steelyard's network extension; mounted at /v2
and /v2.0."""

from fastapi import APIRouter

from steelyard.api.steelyard import networks
from steelyard.api.v2 import (
    availability_zones,
    failover,
    flavorprofiles,
    flavors,
    healthmonitors,
    l7policies,
    l7rules,
    listeners,
    loadbalancer_logs,
    loadbalancers,
    members,
    pools,
    providers,
    quotas,
)

router = APIRouter()
for module in (
    loadbalancers,
    loadbalancer_logs,
    failover,
    listeners,
    pools,
    members,
    healthmonitors,
    l7policies,
    l7rules,
    providers,
    flavors,
    flavorprofiles,
    availability_zones,
    quotas,
    networks,
):
    router.include_router(module.router)
