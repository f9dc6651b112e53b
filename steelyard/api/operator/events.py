"""GET /events: the event log of the whole deployment, newest last unless sorted otherwise
(`sort=created_at:desc`). Filters: type, severity, loadbalancer_id, project_id, listener_id
(repeat one for any of several values) and `since` (ISO 8601; without an offset, UTC);
Octavia's pagination (limit, marker, page_reverse)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from steelyard.api.deps import AppDeps
from steelyard.api.listing import list_query, page, time_param
from steelyard.db.events import list_events

router = APIRouter(tags=["operator"])
SINCE = "since"


@router.get("/events")
def show_events(request: Request, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings, special=(SINCE,))
    since = time_param(request, SINCE)
    items = deps.read(lambda s: list_events(s, query, since))
    return page(request, deps.settings, "events", items, query)
