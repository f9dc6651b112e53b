"""/steelyard/networks and /steelyard/subnets: the VIP networks (Steelyard extension).

Every authenticated caller may read shared networks; only admins create and delete them.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from steelyard.api.auth import Context
from steelyard.api.deps import AppDeps, Reader, Writer, body, no_content, one
from steelyard.db import networks as db
from steelyard.model.faults import Forbidden
from steelyard.model.network import NetworkCreateRoot, SubnetCreateRoot

router = APIRouter(prefix="/steelyard", tags=["networks"])
NetworkBody = Annotated[NetworkCreateRoot, Depends(body(NetworkCreateRoot))]
SubnetBody = Annotated[SubnetCreateRoot, Depends(body(SubnetCreateRoot))]


def _admin(ctx: Writer) -> Context:
    if not ctx.is_admin:
        raise Forbidden()
    return ctx


Admin = Annotated[Context, Depends(_admin)]


@router.get("/networks")
def list_networks(ctx: Reader, deps: AppDeps) -> JSONResponse:
    items = deps.read(lambda s: db.list_networks(s, ctx.scope))
    return JSONResponse({"networks": [item.model_dump(mode="json") for item in items]})


@router.get("/networks/{network_id}")
def show_network(request: Request, network_id: str, ctx: Reader, deps: AppDeps) -> JSONResponse:
    return one(request, "network", deps.read(lambda s: db.get_network(s, network_id, ctx.scope)))


@router.post("/networks", status_code=201)
def create_network(request: Request, _: Admin, deps: AppDeps, req: NetworkBody) -> JSONResponse:
    with deps.sessions.begin() as session:
        item = db.create_network(session, req.network)
    return one(request, "network", item, 201)


@router.delete("/networks/{network_id}", status_code=204)
def delete_network(network_id: str, _: Admin, deps: AppDeps) -> Response:
    with deps.sessions.begin() as session:
        db.delete_network(session, network_id)
    return no_content()


@router.get("/subnets")
def list_subnets(ctx: Reader, deps: AppDeps) -> JSONResponse:
    items = deps.read(lambda s: db.list_subnets(s, ctx.scope))
    return JSONResponse({"subnets": [item.model_dump(mode="json") for item in items]})


@router.get("/subnets/{subnet_id}")
def show_subnet(request: Request, subnet_id: str, ctx: Reader, deps: AppDeps) -> JSONResponse:
    return one(request, "subnet", deps.read(lambda s: db.get_subnet(s, subnet_id, ctx.scope)))


@router.post("/subnets", status_code=201)
def create_subnet(request: Request, _: Admin, deps: AppDeps, req: SubnetBody) -> JSONResponse:
    with deps.sessions.begin() as session:
        item = db.create_subnet(session, req.subnet)
    return one(request, "subnet", item, 201)


@router.delete("/subnets/{subnet_id}", status_code=204)
def delete_subnet(subnet_id: str, _: Admin, deps: AppDeps) -> Response:
    with deps.sessions.begin() as session:
        db.delete_subnet(session, subnet_id)
    return no_content()
