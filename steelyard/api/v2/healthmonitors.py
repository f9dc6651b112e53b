"""/lbaas/healthmonitors: list, create, show, update, delete."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from steelyard.api.deps import AppDeps, Caller, body, no_content, one
from steelyard.api.listing import list_query, page
from steelyard.db import healthmonitors as db
from steelyard.model.healthmonitor import HealthMonitorCreateRoot, HealthMonitorUpdateRoot

router = APIRouter(prefix="/lbaas/healthmonitors", tags=["healthmonitors"])
Create = Annotated[HealthMonitorCreateRoot, Depends(body(HealthMonitorCreateRoot))]
Update = Annotated[HealthMonitorUpdateRoot, Depends(body(HealthMonitorUpdateRoot))]


@router.get("")
def list_healthmonitors(request: Request, ctx: Caller, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings)
    items = deps.read(lambda s: db.list_healthmonitors(s, ctx.scope, query))
    return page(request, deps.settings, "healthmonitors", items, query)


@router.post("", status_code=201)
def create_healthmonitor(request: Request, ctx: Caller, deps: AppDeps, req: Create) -> JSONResponse:
    ctx.check_project(req.healthmonitor.project_id)
    item = deps.write(lambda s: db.create_healthmonitor(s, ctx.scope, req.healthmonitor))
    return one(request, "healthmonitor", item, 201)


@router.get("/{hm_id}")
def show_healthmonitor(request: Request, hm_id: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
    item = deps.read(lambda s: db.get_healthmonitor(s, ctx.scope, hm_id))
    return one(request, "healthmonitor", item)


@router.put("/{hm_id}")
def update_healthmonitor(
    request: Request, hm_id: str, ctx: Caller, deps: AppDeps, req: Update
) -> JSONResponse:
    item = deps.write(lambda s: db.update_healthmonitor(s, ctx.scope, hm_id, req.healthmonitor))
    return one(request, "healthmonitor", item)


@router.delete("/{hm_id}", status_code=204)
def delete_healthmonitor(hm_id: str, ctx: Caller, deps: AppDeps) -> Response:
    deps.write(lambda s: db.delete_healthmonitor(s, ctx.scope, hm_id))
    return no_content()
