"""/lbaas/flavors: what a tenant may pick at create (`flavor_id`). Everyone lists and shows
the enabled ones; admins see all, and create, update and delete them."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from steelyard.api.deps import AppDeps, Caller, body, no_content, one
from steelyard.api.listing import list_query, page
from steelyard.db import flavors as db
from steelyard.model.flavor import FlavorCreateRoot, FlavorUpdateRoot

router = APIRouter(prefix="/lbaas/flavors", tags=["flavors"])
Create = Annotated[FlavorCreateRoot, Depends(body(FlavorCreateRoot))]
Update = Annotated[FlavorUpdateRoot, Depends(body(FlavorUpdateRoot))]


@router.get("")
def list_flavors(request: Request, ctx: Caller, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings)
    items = deps.read(lambda s: db.list_flavors(s, ctx.is_admin, query))
    return page(request, deps.settings, "flavors", items, query)


@router.post("", status_code=201)
def create_flavor(request: Request, deps: AppDeps, req: Create) -> JSONResponse:
    item = deps.write(lambda s: db.create_flavor(s, req.flavor))
    return one(request, "flavor", item, 201)


@router.get("/{flavor_id}")
def show_flavor(request: Request, flavor_id: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
    return one(request, "flavor", deps.read(lambda s: db.get_flavor(s, ctx.is_admin, flavor_id)))


@router.put("/{flavor_id}")
def update_flavor(request: Request, flavor_id: str, deps: AppDeps, req: Update) -> JSONResponse:
    item = deps.write(lambda s: db.update_flavor(s, flavor_id, req.flavor))
    return one(request, "flavor", item)


@router.delete("/{flavor_id}", status_code=204)
def delete_flavor(flavor_id: str, deps: AppDeps) -> Response:
    deps.write(lambda s: db.delete_flavor(s, flavor_id))
    return no_content()
