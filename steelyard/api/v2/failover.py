"""`PUT /v2/lbaas/loadbalancers/{id}/failover` (admins, 202): replace every appliance of a load
balancer. ACTIVE_STANDBY keeps serving throughout: the BACKUP is replaced first, then the
MASTER hands the VIP over gracefully and is replaced in turn."""

from fastapi import APIRouter, Response

from steelyard.api.deps import AppDeps, Caller
from steelyard.db.access import Written, utcnow
from steelyard.db.appliances import request_failover

router = APIRouter(tags=["loadbalancers"])


@router.put("/lbaas/loadbalancers/{lb_id}/failover", status_code=202)
def failover_loadbalancer(lb_id: str, deps: AppDeps, ctx: Caller) -> Response:
    deps.write(
        lambda s: Written(
            request_failover(s, lb_id, reason=f"operator failover ({ctx.project_id or 'admin'})",
                             now=utcnow()),
            lb_id,
        )
    )  # fmt: skip
    return Response(status_code=202)
