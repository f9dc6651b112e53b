"""The health manager, for operators:

- GET    /health                    {"health": {circuit_breaker, heartbeats (counts by
                                    outcome: accepted, forged, replayed, unknown, oversized,
                                    malformed), appliances (watched, silent, failed), managers}}
- DELETE /health/circuit_breaker    release a tripped circuit breaker (204; 409 when it is not
                                    tripped): automatic failover resumes, also for the
                                    appliances still silent
"""

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from steelyard.api.deps import AppDeps, no_content
from steelyard.db.access import utcnow
from steelyard.db.appliance_health import health_overview, release_breaker
from steelyard.model.health import HealthRoot

router = APIRouter(tags=["operator"])


@router.get("/health")
def show_health(deps: AppDeps) -> JSONResponse:
    overview = deps.read(health_overview)
    return JSONResponse(HealthRoot(health=overview).model_dump(mode="json"))


@router.delete("/health/circuit_breaker")
def release_circuit_breaker(deps: AppDeps) -> Response:
    deps.write(lambda s: release_breaker(s, utcnow()))
    return no_content()
