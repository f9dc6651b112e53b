"""/lbaas/l7policies: list, create (with rules), show, update, delete."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from steelyard.api.deps import AppDeps, Caller, body, no_content, one
from steelyard.api.listing import list_query, page
from steelyard.db import l7 as db
from steelyard.model.l7 import PolicyCreateRoot, PolicyUpdateRoot

router = APIRouter(prefix="/lbaas/l7policies", tags=["l7policies"])
Create = Annotated[PolicyCreateRoot, Depends(body(PolicyCreateRoot))]
Update = Annotated[PolicyUpdateRoot, Depends(body(PolicyUpdateRoot))]


@router.get("")
def list_l7policies(request: Request, ctx: Caller, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings)
    items = deps.read(lambda s: db.list_policies(s, ctx.scope, query))
    return page(request, deps.settings, "l7policies", items, query)


@router.post("", status_code=201)
def create_l7policy(request: Request, ctx: Caller, deps: AppDeps, req: Create) -> JSONResponse:
    ctx.check_project(req.l7policy.project_id)
    item = deps.write(lambda s: db.create_policy(s, ctx.scope, req.l7policy))
    return one(request, "l7policy", item, 201)


@router.get("/{l7policy_id}")
def show_l7policy(request: Request, l7policy_id: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
    item = deps.read(lambda s: db.get_policy(s, ctx.scope, l7policy_id))
    return one(request, "l7policy", item)


@router.put("/{l7policy_id}")
def update_l7policy(
    request: Request, l7policy_id: str, ctx: Caller, deps: AppDeps, req: Update
) -> JSONResponse:
    item = deps.write(lambda s: db.update_policy(s, ctx.scope, l7policy_id, req.l7policy))
    return one(request, "l7policy", item)


@router.delete("/{l7policy_id}", status_code=204)
def delete_l7policy(l7policy_id: str, ctx: Caller, deps: AppDeps) -> Response:
    deps.write(lambda s: db.delete_policy(s, ctx.scope, l7policy_id))
    return no_content()
