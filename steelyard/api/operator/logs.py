"""Logs for operators: a load balancer's flow logs (with the appliance that served each
request) and the admin logs of the deployment (agents, HAProxy, keepalived).

- GET /loadbalancers/{id}/logs   filters of api/log_queries.py FLOW_PARAMS
- GET /logs                      filters of api/log_queries.py ADMIN_PARAMS
"""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from steelyard.api.deps import AppDeps, Caller
from steelyard.api.listing import list_query, page
from steelyard.api.log_queries import ADMIN_PARAMS, FLOW_PARAMS, admin_filters, flow_filters
from steelyard.db.logs import admin_logs, loadbalancer_flow_logs

router = APIRouter(tags=["operator"])


@router.get("/loadbalancers/{lb_id}/logs")
def show_flow_logs(request: Request, lb_id: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings, special=FLOW_PARAMS)
    filters = flow_filters(request)
    items = deps.read(
        lambda s: loadbalancer_flow_logs(s, ctx.scope, lb_id, query, filters, operator=True)
    )
    return page(request, deps.settings, "logs", items, query)


@router.get("/logs")
def show_admin_logs(request: Request, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings, special=ADMIN_PARAMS)
    filters = admin_filters(request)
    items = deps.read(lambda s: admin_logs(s, query, filters))
    return page(request, deps.settings, "logs", items, query)
