"""Just enough of Neutron's read API for OpenStack clients on the same endpoint: the
`openstack loadbalancer create --vip-subnet-id/--vip-network-id` commands resolve names and
IDs with GET /v2.0/subnets and /v2.0/networks before they call Octavia."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from steelyard.api.deps import AppDeps, Reader
from steelyard.db import networks as db
from steelyard.model.network import NetworkOut, SubnetOut

router = APIRouter(prefix="/v2.0", tags=["neutron"], include_in_schema=False)


def _subnet(item: SubnetOut, project: str) -> dict[str, Any]:
    return {
        **item.model_dump(mode="json", exclude={"created_at"}),
        "tenant_id": project,
        "project_id": project,
        "enable_dhcp": False,
    }


def _network(item: NetworkOut, project: str) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name,
        "shared": item.shared,
        "status": "ACTIVE",
        "admin_state_up": True,
        "subnets": [subnet.id for subnet in item.subnets],
        "tenant_id": project,
        "project_id": project,
    }


def _matches(request: Request, item: dict[str, Any]) -> bool:
    for name, value in request.query_params.multi_items():
        if name in ("id", "name", "network_id") and str(item.get(name)) != value:
            return False
    return True


@router.get("/networks")
def list_networks(request: Request, ctx: Reader, deps: AppDeps) -> JSONResponse:
    items = [_network(n, db.OWNER) for n in deps.read(lambda s: db.list_networks(s, ctx.scope))]
    return JSONResponse({"networks": [item for item in items if _matches(request, item)]})


@router.get("/networks/{network_id}")
def show_network(network_id: str, ctx: Reader, deps: AppDeps) -> JSONResponse:
    item = deps.read(lambda s: db.get_network(s, network_id, ctx.scope))
    return JSONResponse({"network": _network(item, db.OWNER)})


@router.get("/subnets")
def list_subnets(request: Request, ctx: Reader, deps: AppDeps) -> JSONResponse:
    items = [_subnet(s, db.OWNER) for s in deps.read(lambda s: db.list_subnets(s, ctx.scope))]
    return JSONResponse({"subnets": [item for item in items if _matches(request, item)]})


@router.get("/subnets/{subnet_id}")
def show_subnet(subnet_id: str, ctx: Reader, deps: AppDeps) -> JSONResponse:
    item = deps.read(lambda s: db.get_subnet(s, subnet_id, ctx.scope))
    return JSONResponse({"subnet": _subnet(item, db.OWNER)})
