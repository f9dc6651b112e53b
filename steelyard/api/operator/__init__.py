"""The operator API, /v2/operator: deployment-wide settings and views for admins only
(the `steelyard:operator` rule guards every path: everyone else gets 403)."""

from fastapi import APIRouter

from steelyard.api.operator import (
    appliances,
    diagnostics,
    event_stream,
    events,
    health,
    hosts,
    loadbalancers,
    logs,
    protection,
    repair,
    usage,
    webhooks,
)

router = APIRouter(prefix="/operator")
for module in (
    protection,
    events,
    health,
    repair,
    hosts,
    event_stream,
    webhooks,
    diagnostics,
    loadbalancers,
    appliances,
    usage,
    logs,
):
    router.include_router(module.router)
