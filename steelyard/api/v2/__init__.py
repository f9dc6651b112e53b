"""Octavia v2 resources, one module each, and Steelyard's network extension; mounted at /v2
and /v2.0."""

from fastapi import APIRouter

from steelyard.api.steelyard import networks
from steelyard.api.v2 import (
    catalog,
    failover,
    healthmonitors,
    listeners,
    loadbalancers,
    members,
    pools,
)

router = APIRouter()
for module in (
    loadbalancers,
    failover,
    listeners,
    pools,
    members,
    healthmonitors,
    catalog,
    networks,
):
    router.include_router(module.router)
