"""/lbaas/loadbalancers: list, create (also fully populated), show, update, delete, status,
stats, and (Steelyard extension) the load balancer's events."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from steelyard.api.deps import AppDeps, Caller, body, no_content, one
from steelyard.api.listing import flag, list_query, page, time_param
from steelyard.db import loadbalancers as db
from steelyard.db.events import loadbalancer_events
from steelyard.db.status import loadbalancer_stats, status_tree
from steelyard.model.loadbalancer import LoadBalancerCreateRoot, LoadBalancerUpdateRoot

router = APIRouter(prefix="/lbaas/loadbalancers", tags=["loadbalancers"])
Create = Annotated[LoadBalancerCreateRoot, Depends(body(LoadBalancerCreateRoot))]
Update = Annotated[LoadBalancerUpdateRoot, Depends(body(LoadBalancerUpdateRoot))]


@router.get("")
def list_loadbalancers(request: Request, ctx: Caller, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings)
    items = deps.read(lambda s: db.list_loadbalancers(s, ctx.scope, query))
    return page(request, deps.settings, "loadbalancers", items, query)


@router.post("", status_code=201)
def create_loadbalancer(request: Request, ctx: Caller, deps: AppDeps, req: Create) -> JSONResponse:
    spec = req.loadbalancer
    project = ctx.owner(spec.project_id)
    settings = deps.settings
    created = deps.write(
        lambda s: db.create_loadbalancer(
            s, spec, project, settings.default_network, settings.default_topology,
            settings.topologies,
        )
    )  # fmt: skip
    return one(request, "loadbalancer", created, 201)


@router.get("/{lb_id}")
def show_loadbalancer(request: Request, lb_id: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
    item = deps.read(lambda s: db.get_loadbalancer(s, ctx.scope, lb_id))
    return one(request, "loadbalancer", item)


@router.put("/{lb_id}")
def update_loadbalancer(
    request: Request, lb_id: str, ctx: Caller, deps: AppDeps, req: Update
) -> JSONResponse:
    item = deps.write(lambda s: db.update_loadbalancer(s, ctx.scope, lb_id, req.loadbalancer))
    return one(request, "loadbalancer", item)


@router.delete("/{lb_id}", status_code=204)
def delete_loadbalancer(request: Request, lb_id: str, ctx: Caller, deps: AppDeps) -> Response:
    cascade = flag(request, "cascade")
    deps.write(lambda s: db.delete_loadbalancer(s, ctx.scope, lb_id, cascade))
    return no_content()


@router.get("/{lb_id}/status")
def show_status(lb_id: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
    tree = deps.read(lambda s: status_tree(s, ctx.scope, lb_id))
    return JSONResponse({"statuses": {"loadbalancer": tree.model_dump(mode="json")}})


@router.get("/{lb_id}/stats")
def show_stats(request: Request, lb_id: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
    return one(request, "stats", deps.read(lambda s: loadbalancer_stats(s, ctx.scope, lb_id)))


@router.get("/{lb_id}/events")
def list_events(request: Request, lb_id: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
    """As GET /v2/operator/events (same filters and `since`), for one load balancer."""
    query = list_query(request, deps.settings, special=("since",))
    since = time_param(request, "since")
    items = deps.read(lambda s: loadbalancer_events(s, ctx.scope, lb_id, query, since))
    return page(request, deps.settings, "events", items, query)
