"""The operator API, /v2/operator: deployment-wide settings and views for admins only
(the `steelyard:operator` rule guards every path: everyone else gets 403)."""

from fastapi import APIRouter

from steelyard.api.operator import events, protection

router = APIRouter(prefix="/operator")
for module in (protection, events):
    router.include_router(module.router)
