"""/lbaas/pools/{pool_id}/members: list, create, show, update, delete, and batch update."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from steelyard.api.deps import AppDeps, Caller, body, no_content, one
from steelyard.api.listing import flag, list_query, page
from steelyard.db import members as db
from steelyard.model.member import MemberCreateRoot, MembersBatchRoot, MemberUpdateRoot

router = APIRouter(prefix="/lbaas/pools/{pool_id}/members", tags=["members"])
Create = Annotated[MemberCreateRoot, Depends(body(MemberCreateRoot))]
Update = Annotated[MemberUpdateRoot, Depends(body(MemberUpdateRoot))]
Batch = Annotated[MembersBatchRoot, Depends(body(MembersBatchRoot))]


@router.get("")
def list_members(request: Request, pool_id: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings)
    items = deps.read(lambda s: db.list_members(s, ctx.scope, pool_id, query))
    return page(request, deps.settings, "members", items, query)


@router.post("", status_code=201)
def create_member(
    request: Request, pool_id: str, ctx: Caller, deps: AppDeps, req: Create
) -> JSONResponse:
    ctx.check_project(req.member.project_id)
    item = deps.write(lambda s: db.create_member(s, ctx.scope, pool_id, req.member))
    return one(request, "member", item, 201)


@router.put("", status_code=202)
def replace_members(
    request: Request, pool_id: str, ctx: Caller, deps: AppDeps, req: Batch
) -> Response:
    """Octavia's batch update: the body is the pool's new member set (202, no body)."""
    for member in req.members:
        ctx.check_project(member.project_id)
    additive = flag(request, "additive_only")
    deps.write(lambda s: db.replace_members(s, ctx.scope, pool_id, req.members, additive))
    return Response(status_code=202)


@router.get("/{member_id}")
def show_member(
    request: Request, pool_id: str, member_id: str, ctx: Caller, deps: AppDeps
) -> JSONResponse:
    item = deps.read(lambda s: db.get_member(s, ctx.scope, pool_id, member_id))
    return one(request, "member", item)


@router.put("/{member_id}")
def update_member(
    request: Request, pool_id: str, member_id: str, ctx: Caller, deps: AppDeps, req: Update
) -> JSONResponse:
    item = deps.write(lambda s: db.update_member(s, ctx.scope, pool_id, member_id, req.member))
    return one(request, "member", item)


@router.delete("/{member_id}", status_code=204)
def delete_member(pool_id: str, member_id: str, ctx: Caller, deps: AppDeps) -> Response:
    deps.write(lambda s: db.delete_member(s, ctx.scope, pool_id, member_id))
    return no_content()
