"""Load balancers as operators see them, from the tenant's id alone:

- GET /loadbalancers        every project's, with the tenant list's filters (project_id
                            among them), sorting and pagination, and appliance counts
- GET /loadbalancers/{id}   {"loadbalancer": the tenant's object, plus topology, generations,
                            appliances, recent_events, errors and health (plain language)}
"""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from steelyard.api.deps import AppDeps, one
from steelyard.api.listing import list_query, page
from steelyard.db.access import utcnow
from steelyard.db.operator_views import operator_loadbalancer, operator_loadbalancers

router = APIRouter(tags=["operator"])


@router.get("/loadbalancers")
def list_loadbalancers(request: Request, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings)
    items = deps.read(lambda s: operator_loadbalancers(s, query))
    return page(request, deps.settings, "loadbalancers", items, query)


@router.get("/loadbalancers/{lb_id}")
def show_loadbalancer(request: Request, lb_id: str, deps: AppDeps) -> JSONResponse:
    item = deps.read(lambda s: operator_loadbalancer(s, lb_id, utcnow()))
    return one(request, "loadbalancer", item)
