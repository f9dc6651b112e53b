"""Live diagnostics for operators, from the agents of a load balancer's appliances:

- GET  /loadbalancers/{id}/diagnostics   {"diagnostics": LoadBalancerDiagnostics}: every
                                         appliance's HAProxy, keepalived and network state,
                                         and verdicts in plain language
- GET  /appliances/{id}/diagnostics      {"diagnostics": ApplianceDiagnosticsOut}: one
                                         appliance (an amphora id)
- POST /loadbalancers/{id}/connectivity  {"connectivity": LoadBalancerConnectivity}: every
                                         member (address, port, health monitor as in the
                                         database) tested from inside every appliance

An appliance whose agent cannot answer is reported as such (reachable false, and a verdict),
never as a failure of the request. 503 when this process has no diagnostics service.
"""

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from steelyard.api.deps import AppDeps
from steelyard.api.errors import fault_response
from steelyard.api.operator.diagnosis import (
    connectivity_verdicts,
    probe_targets,
    state_verdicts,
)
from steelyard.api.services import Diagnostics, DiagnosticsUnavailable, services_of
from steelyard.db.diagnostics import diagnosed_appliance, diagnosed_loadbalancer
from steelyard.db.snapshot import ApplianceRecord
from steelyard.model.diagnostics import (
    ApplianceConnectivity,
    ApplianceDiagnosticsOut,
    ApplianceReport,
    ConnectivityRequest,
    LoadBalancerConnectivity,
    LoadBalancerDiagnostics,
)

T = TypeVar("T")
UNAVAILABLE = "Diagnostics are not available in this process (it reaches no appliance agent)."
# The operator's member test: 2 s per step, 32 at a time (256 members with checks: ≤ 48 s).
CONNECTIVITY_CONCURRENCY = 32
MAX_PARALLEL_APPLIANCES = 8
ERRORS: dict[int | str, dict[str, object]] = {503: {"description": "No diagnostics service"}}

router = APIRouter(tags=["operator"])


@router.get("/loadbalancers/{lb_id}/diagnostics", responses=ERRORS)
def loadbalancer_diagnostics(lb_id: str, deps: AppDeps, request: Request) -> JSONResponse:
    lb = deps.read(lambda s: diagnosed_loadbalancer(s, lb_id))
    service = services_of(request).diagnostics
    if service is None:
        return fault_response(503, UNAVAILABLE)
    reports = _each(lb.appliances, lambda a: _report(service, a))
    return _json(
        "diagnostics",
        LoadBalancerDiagnostics(
            loadbalancer_id=lb.id,
            project_id=lb.project_id,
            provisioning_status=lb.provisioning_status,
            operating_status=lb.operating_status,
            topology=lb.topology,
            desired_generation=lb.desired_generation,
            applied_generation=lb.applied_generation,
            appliances=reports,
            verdicts=state_verdicts(reports, lb),
        ),
    )


@router.get("/appliances/{appliance_id}/diagnostics", responses=ERRORS)
def appliance_diagnostics(appliance_id: str, deps: AppDeps, request: Request) -> JSONResponse:
    appliance, lb_id = deps.read(lambda s: diagnosed_appliance(s, appliance_id))
    service = services_of(request).diagnostics
    if service is None:
        return fault_response(503, UNAVAILABLE)
    report = _report(service, appliance)
    return _json(
        "diagnostics",
        ApplianceDiagnosticsOut(
            loadbalancer_id=lb_id, appliance=report, verdicts=state_verdicts([report])
        ),
    )


@router.post("/loadbalancers/{lb_id}/connectivity", responses=ERRORS)
def loadbalancer_connectivity(lb_id: str, deps: AppDeps, request: Request) -> JSONResponse:
    lb = deps.read(lambda s: diagnosed_loadbalancer(s, lb_id))
    service = services_of(request).diagnostics
    if service is None:
        return fault_response(503, UNAVAILABLE)
    targets, not_tested = probe_targets(lb.pools)
    probe = ConnectivityRequest(targets=targets, concurrency=CONNECTIVITY_CONCURRENCY)

    def test(appliance: ApplianceRecord) -> ApplianceConnectivity:
        found = ApplianceConnectivity(
            appliance_id=appliance.id,
            name=appliance.name,
            role=appliance.role,
            host=appliance.host,
            reachable=False,
        )
        try:
            report = service.connectivity(appliance.name, probe)
        except DiagnosticsUnavailable as exc:
            return found.model_copy(update={"error": str(exc)})
        return found.model_copy(update={"reachable": True, "report": report})

    results = _each(lb.appliances, test) if targets else []
    return _json(
        "connectivity",
        LoadBalancerConnectivity(
            loadbalancer_id=lb.id,
            members_tested=len(targets),
            members_not_tested=not_tested,
            appliances=results,
            verdicts=connectivity_verdicts(results, len(targets), not_tested),
        ),
    )


def _report(service: Diagnostics, appliance: ApplianceRecord) -> ApplianceReport:
    report = ApplianceReport(
        appliance_id=appliance.id,
        name=appliance.name,
        role=appliance.role,
        status=appliance.status,
        host=appliance.host,
        reachable=False,
    )
    try:
        found = service.appliance_diagnostics(appliance.name)
    except DiagnosticsUnavailable as exc:
        return report.model_copy(update={"error": str(exc)})
    return report.model_copy(update={"reachable": True, "diagnostics": found})


def _each(appliances: Sequence[ApplianceRecord], ask: Callable[[ApplianceRecord], T]) -> list[T]:
    """`ask` each appliance at once (an ACTIVE_ACTIVE load balancer has up to 8)."""
    if len(appliances) <= 1:
        return [ask(a) for a in appliances]
    with ThreadPoolExecutor(min(len(appliances), MAX_PARALLEL_APPLIANCES)) as pool:
        return list(pool.map(ask, appliances))


def _json(key: str, item: BaseModel) -> JSONResponse:
    return JSONResponse({key: item.model_dump(mode="json")})
