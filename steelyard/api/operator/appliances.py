"""GET /appliances: every appliance (the amphora API's ids and statuses), with where its
configuration and heartbeats stand. Filters: loadbalancer_id, project_id (its load
balancer's), host, status (Octavia's amphora statuses: ERROR finds failed ones), role, id,
name; sorting and pagination like every list."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from steelyard.api.deps import AppDeps
from steelyard.api.listing import list_query, page
from steelyard.db.access import utcnow
from steelyard.db.operator_views import operator_appliances

router = APIRouter(tags=["operator"])


@router.get("/appliances")
def list_appliances(request: Request, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings)
    items = deps.read(lambda s: operator_appliances(s, query, utcnow()))
    return page(request, deps.settings, "appliances", items, query)
