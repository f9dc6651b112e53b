"""/lbaas/pools: list, create (with members and health monitor), show, update, delete."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from steelyard.api.deps import AppDeps, Caller, body, no_content, one
from steelyard.api.listing import list_query, page
from steelyard.db import pools as db
from steelyard.model.pool import PoolCreateRoot, PoolUpdateRoot

router = APIRouter(prefix="/lbaas/pools", tags=["pools"])
Create = Annotated[PoolCreateRoot, Depends(body(PoolCreateRoot))]
Update = Annotated[PoolUpdateRoot, Depends(body(PoolUpdateRoot))]


@router.get("")
def list_pools(request: Request, ctx: Caller, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings)
    items = deps.read(lambda s: db.list_pools(s, ctx.scope, query))
    return page(request, deps.settings, "pools", items, query)


@router.post("", status_code=201)
def create_pool(request: Request, ctx: Caller, deps: AppDeps, req: Create) -> JSONResponse:
    ctx.check_project(req.pool.project_id)
    item = deps.write(lambda s: db.create_pool(s, ctx.scope, req.pool))
    return one(request, "pool", item, 201)


@router.get("/{pool_id}")
def show_pool(request: Request, pool_id: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
    return one(request, "pool", deps.read(lambda s: db.get_pool(s, ctx.scope, pool_id)))


@router.put("/{pool_id}")
def update_pool(
    request: Request, pool_id: str, ctx: Caller, deps: AppDeps, req: Update
) -> JSONResponse:
    item = deps.write(lambda s: db.update_pool(s, ctx.scope, pool_id, req.pool))
    return one(request, "pool", item)


@router.delete("/{pool_id}", status_code=204)
def delete_pool(pool_id: str, ctx: Caller, deps: AppDeps) -> Response:
    deps.write(lambda s: db.delete_pool(s, ctx.scope, pool_id))
    return no_content()
