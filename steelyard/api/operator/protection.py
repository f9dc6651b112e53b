"""Protection settings (issue 5): the deployment defaults, a load balancer's override, and
its "under attack" switch. Every change reaches the data plane through the generations of
the load balancers it affects.

- GET/PUT /protection/defaults                    {"protection": {...}} ({}: none)
- GET/PUT/DELETE /loadbalancers/{id}/protection   {"protection": {...}} (the override)
- PUT /loadbalancers/{id}/under_attack            {"under_attack": true|false}

A load balancer's endpoints answer with its override, its under-attack flag and each
listener's own and effective protection.
"""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from steelyard.api.deps import AppDeps, body
from steelyard.db import operator as db
from steelyard.model.operator import ProtectionRoot, UnderAttackRoot

router = APIRouter(tags=["operator"])
Settings = Annotated[ProtectionRoot, Depends(body(ProtectionRoot))]
Switch = Annotated[UnderAttackRoot, Depends(body(UnderAttackRoot))]
LB_PROTECTION = "/loadbalancers/{lb_id}/protection"


def _json(item: BaseModel) -> JSONResponse:
    return JSONResponse(item.model_dump(mode="json"))


@router.get("/protection/defaults")
def show_defaults(deps: AppDeps) -> JSONResponse:
    return _json(deps.read(db.get_defaults))


@router.put("/protection/defaults")
def update_defaults(deps: AppDeps, req: Settings) -> JSONResponse:
    return _json(deps.write(lambda s: db.set_defaults(s, req.protection)))


@router.get(LB_PROTECTION)
def show_loadbalancer(lb_id: str, deps: AppDeps) -> JSONResponse:
    return _json(deps.read(lambda s: db.get_loadbalancer_protection(s, lb_id)))


@router.put(LB_PROTECTION)
def update_override(lb_id: str, deps: AppDeps, req: Settings) -> JSONResponse:
    return _json(deps.write(lambda s: db.set_override(s, lb_id, req.protection)))


@router.delete(LB_PROTECTION)
def delete_override(lb_id: str, deps: AppDeps) -> JSONResponse:
    return _json(deps.write(lambda s: db.set_override(s, lb_id, None)))


@router.put("/loadbalancers/{lb_id}/under_attack")
def update_under_attack(lb_id: str, deps: AppDeps, req: Switch) -> JSONResponse:
    return _json(deps.write(lambda s: db.set_under_attack(s, lb_id, req.under_attack)))
