"""/lbaas/listeners: list, create, show, update, delete, stats."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from steelyard.api.deps import AppDeps, Caller, body, no_content, one
from steelyard.api.listing import list_query, page
from steelyard.db import listeners as db
from steelyard.model.listener import ListenerCreateRoot, ListenerUpdateRoot

router = APIRouter(prefix="/lbaas/listeners", tags=["listeners"])
Create = Annotated[ListenerCreateRoot, Depends(body(ListenerCreateRoot))]
Update = Annotated[ListenerUpdateRoot, Depends(body(ListenerUpdateRoot))]


@router.get("")
def list_listeners(request: Request, ctx: Caller, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings)
    items = deps.read(lambda s: db.list_listeners(s, ctx.scope, query))
    return page(request, deps.settings, "listeners", items, query)


@router.post("", status_code=201)
def create_listener(request: Request, ctx: Caller, deps: AppDeps, req: Create) -> JSONResponse:
    ctx.check_project(req.listener.project_id)
    item = deps.write(lambda s: db.create_listener(s, ctx.scope, req.listener))
    return one(request, "listener", item, 201)


@router.get("/{listener_id}")
def show_listener(request: Request, listener_id: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
    item = deps.read(lambda s: db.get_listener(s, ctx.scope, listener_id))
    return one(request, "listener", item)


@router.put("/{listener_id}")
def update_listener(
    request: Request, listener_id: str, ctx: Caller, deps: AppDeps, req: Update
) -> JSONResponse:
    item = deps.write(lambda s: db.update_listener(s, ctx.scope, listener_id, req.listener))
    return one(request, "listener", item)


@router.delete("/{listener_id}", status_code=204)
def delete_listener(listener_id: str, ctx: Caller, deps: AppDeps) -> Response:
    deps.write(lambda s: db.delete_listener(s, ctx.scope, listener_id))
    return no_content()


@router.get("/{listener_id}/stats")
def show_stats(request: Request, listener_id: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
    stats = deps.read(lambda s: db.listener_stats(s, ctx.scope, listener_id))
    return one(request, "stats", stats)
