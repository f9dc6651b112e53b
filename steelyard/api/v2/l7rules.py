"""/lbaas/l7policies/{l7policy_id}/rules: list, create, show, update, delete (Octavia's body
keys are `rule` and `rules`)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from steelyard.api.deps import AppDeps, Caller, body, no_content, one
from steelyard.api.listing import list_query, page
from steelyard.db import l7 as db
from steelyard.model.l7 import RuleCreateRoot, RuleUpdateRoot

router = APIRouter(prefix="/lbaas/l7policies/{l7policy_id}/rules", tags=["l7rules"])
Create = Annotated[RuleCreateRoot, Depends(body(RuleCreateRoot))]
Update = Annotated[RuleUpdateRoot, Depends(body(RuleUpdateRoot))]


@router.get("")
def list_l7rules(request: Request, l7policy_id: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings)
    items = deps.read(lambda s: db.list_rules(s, ctx.scope, l7policy_id, query))
    return page(request, deps.settings, "rules", items, query)


@router.post("", status_code=201)
def create_l7rule(
    request: Request, l7policy_id: str, ctx: Caller, deps: AppDeps, req: Create
) -> JSONResponse:
    ctx.check_project(req.rule.project_id)
    item = deps.write(lambda s: db.create_rule(s, ctx.scope, l7policy_id, req.rule))
    return one(request, "rule", item, 201)


@router.get("/{l7rule_id}")
def show_l7rule(
    request: Request, l7policy_id: str, l7rule_id: str, ctx: Caller, deps: AppDeps
) -> JSONResponse:
    item = deps.read(lambda s: db.get_rule(s, ctx.scope, l7policy_id, l7rule_id))
    return one(request, "rule", item)


@router.put("/{l7rule_id}")
def update_l7rule(
    request: Request, l7policy_id: str, l7rule_id: str, ctx: Caller, deps: AppDeps, req: Update
) -> JSONResponse:
    item = deps.write(lambda s: db.update_rule(s, ctx.scope, l7policy_id, l7rule_id, req.rule))
    return one(request, "rule", item)


@router.delete("/{l7rule_id}", status_code=204)
def delete_l7rule(l7policy_id: str, l7rule_id: str, ctx: Caller, deps: AppDeps) -> Response:
    deps.write(lambda s: db.delete_rule(s, ctx.scope, l7policy_id, l7rule_id))
    return no_content()
