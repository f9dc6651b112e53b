"""GET /usage: usage for billing, per project and load balancer (also deleted ones), over the
whole hours that start in [start, end).

Query: `start` and `end` (ISO 8601; without an offset, UTC; default: the 24 hours up to the end
of the current hour), `project_id` (default: every project). At most MAX_RANGE at once.
"""

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from steelyard.api.deps import AppDeps
from steelyard.api.listing import time_param
from steelyard.db.access import utcnow
from steelyard.db.usage import HOUR, hour_of, usage_report
from steelyard.model.faults import BadRequest
from steelyard.model.usage import UsageRoot

router = APIRouter(tags=["operator"])
MAX_RANGE = timedelta(days=366)
MAX_PROJECT_ID = 255


@router.get("/usage", response_model=UsageRoot)
def show_usage(request: Request, deps: AppDeps) -> JSONResponse:
    end = time_param(request, "end") or hour_of(utcnow()) + HOUR
    start = time_param(request, "start") or end - timedelta(days=1)
    if start >= end:
        raise BadRequest("start must be before end.")
    if end - start > MAX_RANGE:
        raise BadRequest(f"A usage report covers at most {MAX_RANGE.days} days.")
    project_id = request.query_params.get("project_id")
    if project_id is not None and not 0 < len(project_id) <= MAX_PROJECT_ID:
        raise BadRequest(f"project_id has 1 to {MAX_PROJECT_ID} characters.")
    report = deps.read(lambda s: usage_report(s, start, end, project_id))
    return JSONResponse(UsageRoot(usage=report).model_dump(mode="json"))
