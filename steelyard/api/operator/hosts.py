"""Hosts appliances are placed on (declared by `serve --host NAME[:CAPACITY][@GROUP]`):

- GET  /hosts[?state=&host_group=...]   paginated like every list
- GET  /hosts/{name}
- POST /hosts/{name}/drain     202: no new appliance goes there, and its appliances move to
                               other hosts (per load balancer one at a time; 409 when it is
                               draining already or no other host takes appliances)
- POST /hosts/{name}/undrain   200: it takes new appliances again (409 unless DRAINING)
"""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from steelyard.api.deps import AppDeps
from steelyard.api.listing import list_query, page
from steelyard.db.access import utcnow
from steelyard.db.hosts import drain_host, get_host, list_hosts, undrain_host
from steelyard.model.repair import HostOut, HostRoot

router = APIRouter(tags=["operator"])


def _one(host: HostOut, status: int = 200) -> JSONResponse:
    return JSONResponse(HostRoot(host=host).model_dump(mode="json"), status_code=status)


@router.get("/hosts")
def list_all(request: Request, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings)
    items = deps.read(lambda s: list_hosts(s, query))
    return page(request, deps.settings, "hosts", items, query)


@router.get("/hosts/{name}")
def show(name: str, deps: AppDeps) -> JSONResponse:
    return _one(deps.read(lambda s: get_host(s, name)))


@router.post("/hosts/{name}/drain", status_code=202)
def drain(name: str, deps: AppDeps) -> JSONResponse:
    return _one(deps.write(lambda s: drain_host(s, name, utcnow())), 202)


@router.post("/hosts/{name}/undrain")
def undrain(name: str, deps: AppDeps) -> JSONResponse:
    return _one(deps.write(lambda s: undrain_host(s, name, utcnow())))
