"""/lbaas/availabilityzones (a zone's name is its key; everyone lists and shows the enabled
ones, admins manage them) and /lbaas/availabilityzoneprofiles (admins only)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from steelyard.api.deps import AppDeps, Caller, body, no_content, one
from steelyard.api.listing import list_query, page
from steelyard.api.v2.flavorprofiles import profile_router
from steelyard.db import flavors as db
from steelyard.model.flavor import (
    AvailabilityZoneCreateRoot,
    AvailabilityZoneProfileCreateRoot,
    AvailabilityZoneProfileUpdateRoot,
    AvailabilityZoneUpdateRoot,
)

zones = APIRouter(prefix="/lbaas/availabilityzones", tags=["availability_zones"])
Create = Annotated[AvailabilityZoneCreateRoot, Depends(body(AvailabilityZoneCreateRoot))]
Update = Annotated[AvailabilityZoneUpdateRoot, Depends(body(AvailabilityZoneUpdateRoot))]
KEY = "availability_zone"


@zones.get("")
def list_zones(request: Request, ctx: Caller, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings)
    items = deps.read(lambda s: db.list_zones(s, ctx.is_admin, query))
    return page(request, deps.settings, f"{KEY}s", items, query)


@zones.post("", status_code=201)
def create_zone(request: Request, deps: AppDeps, req: Create) -> JSONResponse:
    item = deps.write(lambda s: db.create_zone(s, req.availability_zone))
    return one(request, KEY, item, 201)


@zones.get("/{name}")
def show_zone(request: Request, name: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
    return one(request, KEY, deps.read(lambda s: db.get_zone(s, ctx.is_admin, name)))


@zones.put("/{name}")
def update_zone(request: Request, name: str, deps: AppDeps, req: Update) -> JSONResponse:
    item = deps.write(lambda s: db.update_zone(s, name, req.availability_zone))
    return one(request, KEY, item)


@zones.delete("/{name}", status_code=204)
def delete_zone(name: str, deps: AppDeps) -> Response:
    deps.write(lambda s: db.delete_zone(s, name))
    return no_content()


router = APIRouter()
router.include_router(zones)
# Octavia lists them under "availability_zone_profiles" with "availability_zone_profile_links"
router.include_router(
    profile_router(
        "/lbaas/availabilityzoneprofiles",
        "availability_zone_profile",
        db.ZONE_PROFILES,
        AvailabilityZoneProfileCreateRoot,
        AvailabilityZoneProfileUpdateRoot,
        "availability_zone_profile_links",
    )
)
