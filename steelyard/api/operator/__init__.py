"""The operator API, /v2/operator: deployment-wide settings and views for admins only
(everyone else gets 403, whatever the path)."""

from fastapi import APIRouter, Depends

from steelyard.api.deps import require_admin
from steelyard.api.operator import events, protection

router = APIRouter(prefix="/operator", dependencies=[Depends(require_admin)])
for module in (protection, events):
    router.include_router(module.router)
