"""GET /lbaas/loadbalancers/{id}/logs (Steelyard extension): the flow logs of a load balancer
of the caller's project (another project's is a 404), with the operator endpoint's filters
(api/log_queries.py) and Octavia's pagination."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from steelyard.api.deps import AppDeps, Caller
from steelyard.api.listing import list_query, page
from steelyard.api.log_queries import FLOW_PARAMS, flow_filters
from steelyard.db.logs import loadbalancer_flow_logs

router = APIRouter(prefix="/lbaas/loadbalancers", tags=["loadbalancers"])


@router.get("/{lb_id}/logs")
def list_flow_logs(request: Request, lb_id: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings, special=FLOW_PARAMS)
    filters = flow_filters(request)
    items = deps.read(lambda s: loadbalancer_flow_logs(s, ctx.scope, lb_id, query, filters))
    return page(request, deps.settings, "logs", items, query)
