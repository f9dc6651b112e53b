"""Repair actions on a load balancer (202: the reconciler carries them out; an event says
when each is requested and when it is done):

- POST /loadbalancers/{id}/failover   replace every appliance (ACTIVE_STANDBY: the BACKUP
                                      first, then the MASTER hands the VIP over)
- POST /loadbalancers/{id}/resync     ensure every appliance again and push its config from
                                      the database
- POST /loadbalancers/{id}/migrate    {"availability_zone": ..., "host": ...} (either or both)
- POST /loadbalancers/{id}/resize     {"flavor_id": ...} (same topology)

Each answers {"repair": {id, loadbalancer_id, action, generation, appliances, created_at}}.
"""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from steelyard.api.deps import AppDeps, body
from steelyard.db.access import utcnow
from steelyard.db.repair import (
    request_loadbalancer_failover,
    request_migrate,
    request_operator_resync,
    request_resize,
)
from steelyard.model.repair import MigrateRequest, RepairOut, RepairRoot, ResizeRequest

router = APIRouter(tags=["operator"])
Migrate = Annotated[MigrateRequest, Depends(body(MigrateRequest))]
Resize = Annotated[ResizeRequest, Depends(body(ResizeRequest))]
LB = "/loadbalancers/{lb_id}"


def _accepted(repair: RepairOut) -> JSONResponse:
    return JSONResponse(RepairRoot(repair=repair).model_dump(mode="json"), status_code=202)


@router.post(LB + "/failover", status_code=202)
def failover(lb_id: str, deps: AppDeps) -> JSONResponse:
    return _accepted(deps.write(lambda s: request_loadbalancer_failover(s, lb_id, utcnow())))


@router.post(LB + "/resync", status_code=202)
def resync(lb_id: str, deps: AppDeps) -> JSONResponse:
    return _accepted(deps.write(lambda s: request_operator_resync(s, lb_id, utcnow())))


@router.post(LB + "/migrate", status_code=202)
def migrate(lb_id: str, deps: AppDeps, req: Migrate) -> JSONResponse:
    return _accepted(
        deps.write(lambda s: request_migrate(s, lb_id, req.availability_zone, req.host, utcnow()))
    )


@router.post(LB + "/resize", status_code=202)
def resize(lb_id: str, deps: AppDeps, req: Resize) -> JSONResponse:
    return _accepted(deps.write(lambda s: request_resize(s, lb_id, req.flavor_id, utcnow())))
