"""The operator API, /v2/operator: deployment-wide settings and views for admins only
(the `steelyard:operator` rule guards every path: everyone else gets 403)."""

from fastapi import APIRouter

from steelyard.api.operator import event_stream, events, health, protection, webhooks

router = APIRouter(prefix="/operator")
for module in (protection, events, health, event_stream, webhooks):
    router.include_router(module.router)
