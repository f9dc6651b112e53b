"""/lbaas/flavorprofiles (and, through `profile_router`, /lbaas/availabilityzoneprofiles):
a provider's settings as a JSON string, admins only. List, create, show, update, delete."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from steelyard.api.deps import AppDeps, body, no_content, one
from steelyard.api.listing import list_query, page
from steelyard.db import flavors as db
from steelyard.model.flavor import FlavorProfileCreateRoot, FlavorProfileUpdateRoot


def profile_router(
    path: str,
    key: str,
    kind: db.ProfileKind[Any],
    create_root: type[BaseModel],
    update_root: type[BaseModel],
    links_key: str,
) -> APIRouter:
    """The five endpoints of one kind of profile; `key` names the object in bodies."""
    router = APIRouter(prefix=path, tags=[f"{key}s"])
    Create = Annotated[Any, Depends(body(create_root))]
    Update = Annotated[Any, Depends(body(update_root))]

    @router.get("", name=f"list_{key}s")
    def list_profiles(request: Request, deps: AppDeps) -> JSONResponse:
        query = list_query(request, deps.settings)
        items = deps.read(lambda s: db.list_profiles(s, kind, query))
        return page(request, deps.settings, f"{key}s", items, query, links_key)

    @router.post("", status_code=201, name=f"create_{key}")
    def create_profile(request: Request, deps: AppDeps, req: Create) -> JSONResponse:
        item = deps.write(lambda s: db.create_profile(s, kind, getattr(req, key)))
        return one(request, key, item, 201)

    @router.get("/{ident}", name=f"show_{key}")
    def show_profile(request: Request, ident: str, deps: AppDeps) -> JSONResponse:
        return one(request, key, deps.read(lambda s: db.get_profile(s, kind, ident)))

    @router.put("/{ident}", name=f"update_{key}")
    def update_profile(request: Request, ident: str, deps: AppDeps, req: Update) -> JSONResponse:
        item = deps.write(lambda s: db.update_profile(s, kind, ident, getattr(req, key)))
        return one(request, key, item)

    @router.delete("/{ident}", status_code=204, name=f"delete_{key}")
    def delete_profile(ident: str, deps: AppDeps) -> Response:
        deps.write(lambda s: db.delete_profile(s, kind, ident))
        return no_content()

    return router


# Octavia lists them under "flavorprofiles" with "flavorprofile_links"
router = profile_router(
    "/lbaas/flavorprofiles",
    "flavorprofile",
    db.FLAVOR_PROFILES,
    FlavorProfileCreateRoot,
    FlavorProfileUpdateRoot,
    "flavorprofile_links",
)
