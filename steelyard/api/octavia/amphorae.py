"""`/v2/octavia/amphorae` (admins): Steelyard's appliances in Octavia's amphora shape.

- GET  /octavia/amphorae[?loadbalancer_id=&status=&role=...]   paginated like every list
- GET    /octavia/amphorae/{id}
- GET    /octavia/amphorae/{id}/stats                             its counters per listener
- PUT    /octavia/amphorae/{id}/failover                          202: replace this appliance
- PUT    /octavia/amphorae/{id}/config                            202: its load balancer is
         resynced (every appliance ensured again, its configuration pushed)
- DELETE /octavia/amphorae/{id}                                   204: a failed appliance or
         a spare is removed; 409 for one that serves (Octavia: only ERROR amphorae)
"""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from steelyard.api.deps import AppDeps, no_content
from steelyard.api.listing import list_query, page
from steelyard.db.access import Written, WrittenMany, utcnow
from steelyard.db.amphora_stats import amphora_stats
from steelyard.db.amphorae import delete_amphora, get_amphora, list_amphorae, request_config_push
from steelyard.db.appliances import request_appliance_failover
from steelyard.model.amphora_stats import AmphoraStatsRoot

router = APIRouter(prefix="/octavia", tags=["amphorae"])


@router.get("/amphorae")
def list_all(request: Request, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings)
    items = deps.read(lambda s: list_amphorae(s, query))
    return page(request, deps.settings, "amphorae", items, query)


@router.get("/amphorae/{amphora_id}")
def show(amphora_id: str, deps: AppDeps) -> JSONResponse:
    item = deps.read(lambda s: get_amphora(s, amphora_id))
    return JSONResponse({"amphora": item.model_dump(mode="json")})


@router.get("/amphorae/{amphora_id}/stats", response_model=AmphoraStatsRoot)
def show_stats(amphora_id: str, deps: AppDeps) -> JSONResponse:
    """Octavia v2.4: this appliance's counters per listener of its load balancer."""
    found = deps.read(lambda s: amphora_stats(s, amphora_id))
    return JSONResponse(AmphoraStatsRoot(amphora_stats=found).model_dump(mode="json"))


@router.put("/amphorae/{amphora_id}/failover", status_code=202)
def failover(amphora_id: str, deps: AppDeps) -> Response:
    def write(session: Session) -> Written[None] | WrittenMany[None]:
        lb_id = request_appliance_failover(
            session, amphora_id, reason="operator amphora failover", now=utcnow()
        )
        return Written(None, lb_id) if lb_id else WrittenMany(None, ())

    deps.write(write)
    return Response(status_code=202)


@router.put("/amphorae/{amphora_id}/config", status_code=202)
def push_config(amphora_id: str, deps: AppDeps) -> Response:
    deps.write(lambda s: Written(None, request_config_push(s, amphora_id, utcnow())))
    return Response(status_code=202)


@router.delete("/amphorae/{amphora_id}", status_code=204)
def delete(amphora_id: str, deps: AppDeps) -> Response:
    def write(session: Session) -> Written[None] | WrittenMany[None]:
        lb_id = delete_amphora(session, amphora_id, utcnow())
        return Written(None, lb_id) if lb_id else WrittenMany(None, ())

    deps.write(write)
    return no_content()
