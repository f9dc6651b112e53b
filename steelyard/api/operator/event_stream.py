"""GET /events/stream: the event log live, as Server-Sent Events (text/event-stream).

Filters as the list: type, severity, loadbalancer_id, project_id, listener_id (repeat one for
any of several values). Where to start: the `Last-Event-ID` header (what a reconnecting
EventSource sends) or `?after=<event id>` resumes after that event; `since` (ISO 8601) starts
at a time; otherwise the stream starts now. `timeout` (seconds) ends the stream (default:
never); `heartbeat` (seconds, default 15) is how often a comment line keeps proxies open.

Each event is `id: <event id>` and `data: <the event as GET /events shows it>`. The table is
polled every POLL_S; the last LOOKBACK of the log is read again at each poll, so an event
committed late with an earlier timestamp (another thread's transaction) is still sent, once.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from steelyard.api.deps import AppDeps, Deps
from steelyard.api.listing import time_param
from steelyard.db import models as m
from steelyard.db.access import utcnow
from steelyard.db.events import STREAM_FILTERS, StreamFilters, events_from
from steelyard.model.faults import BadRequest, echo
from steelyard.model.operator import OperatorEventOut

router = APIRouter(tags=["operator"])
POLL_S = 0.25
LOOKBACK = timedelta(seconds=5)
BATCH = 200
MAX_FILTER_VALUES = 100
MAX_TIMEOUT_S = 7 * 24 * 3600.0
CONTROL = ("after", "since", "timeout", "heartbeat")


def _number(request: Request, name: str, low: float, high: float) -> float | None:
    text = request.query_params.get(name)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:  # NaN fails too
        raise BadRequest(f"Invalid value {echo(text)} for {name}: between {low:g} and {high:g}.")
    return value


def _filters(request: Request) -> StreamFilters:
    found: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        if name in STREAM_FILTERS:
            found.setdefault(name, []).append(value)
        elif name not in CONTROL:
            raise BadRequest("One or more arguments are either duplicate or invalid.")
    for name, values in found.items():
        if len(values) > MAX_FILTER_VALUES or any(len(v) > 255 for v in values):
            raise BadRequest(f"Invalid value for filter {name}.")
    return {name: tuple(values) for name, values in found.items()}


class _Cursor:
    """What the stream has sent within the re-read window, and where that window starts."""

    def __init__(self, floor: datetime, sent: dict[str, datetime]) -> None:
        self.start = floor
        self.floor = floor
        self.sent = sent

    def fresh(self, events: list[OperatorEventOut]) -> list[OperatorEventOut]:
        new = [event for event in events if event.id not in self.sent]
        for event in new:
            self.sent[event.id] = event.created_at
        if self.sent:
            self.floor = max(self.start, max(self.sent.values()) - LOOKBACK)
            self.sent = {ident: at for ident, at in self.sent.items() if at >= self.floor}
        return new


def _start(session: Session, after: str | None, since: datetime | None) -> _Cursor:
    """Resume after an event, start at `since`, or start now (the events of the last
    LOOKBACK count as sent: a late commit among them is sent, the others are not)."""
    E = m.Event
    if after is not None:
        row = session.get(E, after)
        if row is None:
            raise BadRequest(f"Event {echo(after)} is not in the event log.")
        floor = row.created_at
        earlier = select(E.id, E.created_at).where(E.created_at == floor, E.id <= row.id)
    elif since is not None:
        return _Cursor(since, {})
    else:
        now = utcnow()
        floor = now - LOOKBACK
        earlier = select(E.id, E.created_at).where(E.created_at >= floor, E.created_at <= now)
    return _Cursor(floor, {ident: at for ident, at in session.execute(earlier)})


def _poll(deps: Deps, cursor: _Cursor, filters: StreamFilters) -> list[OperatorEventOut]:
    """Everything in the window not sent yet, a page at a time."""
    found: list[OperatorEventOut] = []
    with deps.read_sessions() as session:
        page = events_from(session, cursor.floor, filters, BATCH)
        while page:
            found += page
            if len(page) < BATCH:
                break
            last = page[-1]
            page = events_from(session, cursor.floor, filters, BATCH, (last.created_at, last.id))
    return cursor.fresh(found)


def _frame(event: OperatorEventOut) -> str:
    return f"id: {event.id}\ndata: {json.dumps(event.model_dump(mode='json'))}\n\n"


@router.get("/events/stream")
async def stream_events(request: Request, deps: AppDeps) -> StreamingResponse:
    filters = _filters(request)
    timeout = _number(request, "timeout", 0, MAX_TIMEOUT_S)
    heartbeat = _number(request, "heartbeat", 1, 300) or 15.0
    after = request.headers.get("last-event-id") or request.query_params.get("after")
    since = time_param(request, "since")
    cursor = await run_in_threadpool(deps.read, lambda s: _start(s, after, since))

    async def frames() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"  # how long an EventSource waits before it reconnects
        ends = None if timeout is None else time.monotonic() + timeout
        beat = time.monotonic()
        while True:
            for event in await run_in_threadpool(_poll, deps, cursor, filters):
                yield _frame(event)
            now = time.monotonic()
            if ends is not None and now >= ends:
                return
            if now - beat >= heartbeat:
                beat = now
                yield ": keep-alive\n\n"
            await asyncio.sleep(POLL_S if ends is None else min(POLL_S, max(ends - now, 0)))

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(frames(), media_type="text/event-stream", headers=headers)
