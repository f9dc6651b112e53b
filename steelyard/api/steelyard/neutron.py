"""Just enough of Neutron's read API for OpenStack clients on the same endpoint: the
`openstack loadbalancer create --vip-subnet-id/--vip-network-id` commands resolve names and
IDs with GET .../subnets and .../networks before they call Octavia (under /v2 or /v2.0,
depending on how the client discovered the endpoint)."""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from steelyard.api.deps import AppDeps, Caller
from steelyard.db import networks as db
from steelyard.model.network import NetworkOut, SubnetOut

router = APIRouter(tags=["neutron"], include_in_schema=False)
T = TypeVar("T")
OWNED = {"tenant_id": db.OWNER, "project_id": db.OWNER}


def _subnet(item: SubnetOut) -> dict[str, Any]:
    return {**item.model_dump(mode="json", exclude={"created_at"}), **OWNED, "enable_dhcp": False}


def _network(item: NetworkOut) -> dict[str, Any]:
    return {
        **item.model_dump(mode="json", include={"id", "name", "shared"}),
        **OWNED,
        "status": "ACTIVE",
        "admin_state_up": True,
        "subnets": [subnet.id for subnet in item.subnets],
    }


def _collection(
    key: str,
    listed: Callable[[Session, str | None], Sequence[T]],
    shown: Callable[[Session, str, str | None], T],
    shape: Callable[[T], dict[str, Any]],
) -> None:
    @router.get(f"/{key}s", name=f"neutron_list_{key}s")
    def list_all(request: Request, ctx: Caller, deps: AppDeps) -> JSONResponse:
        wanted = [
            (name, value)
            for name, value in request.query_params.multi_items()
            if name in ("id", "name", "network_id")
        ]
        items = [shape(item) for item in deps.read(lambda s: listed(s, ctx.scope))]
        found = [i for i in items if all(str(i.get(n)) == v for n, v in wanted)]
        return JSONResponse({f"{key}s": found})

    @router.get(f"/{key}s/{{ident}}", name=f"neutron_show_{key}")
    def show(ident: str, ctx: Caller, deps: AppDeps) -> JSONResponse:
        return JSONResponse({key: shape(deps.read(lambda s: shown(s, ident, ctx.scope)))})


_collection("network", db.list_networks, db.get_network, _network)
_collection("subnet", db.list_subnets, db.get_subnet, _subnet)
