"""GET /v2/operator/events/stream: Server-Sent Events from the event log, with the list's
filters, resumption after an event, and events committed late with an earlier timestamp."""

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from steelyard.db.access import utcnow
from steelyard.db.events import record_event
from tests.unit.api.conftest import MakeClient

STREAM = "/v2/operator/events/stream"
Json = dict[str, Any]


@pytest.fixture
def admin(make_client: MakeClient) -> TestClient:
    return make_client(project=None)


def record(sessions: sessionmaker[Session], ago_s: float = 0.0, **fields: Any) -> str:
    with sessions.begin() as session:
        return record_event(
            session,
            **{"type": "member.operating_status", "severity": "warning", "message": "m", **fields},
            now=utcnow() - timedelta(seconds=ago_s),
        )


def read(admin: TestClient, query: str, headers: dict[str, str] | None = None) -> list[Json]:
    """The events of a stream that ends by itself (`timeout` in `query`)."""
    with admin.stream("GET", f"{STREAM}?{query}", headers=headers or {}) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    events = []
    for frame in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line)
        if "data" in lines:
            event = json.loads(lines["data"])
            assert lines["id"] == event["id"]
            events.append(event)
    return events


def later(seconds: float, action: Any) -> threading.Thread:
    thread = threading.Thread(target=lambda: (threading.Event().wait(seconds), action()))
    thread.start()
    return thread


def test_new_events_arrive_and_older_ones_do_not(
    admin: TestClient, sessions: sessionmaker[Session]
) -> None:
    record(sessions, details={"n": "before"})
    writer = later(0.4, lambda: record(sessions, details={"n": "during"}))
    events = read(admin, "timeout=1.5")
    writer.join()
    assert [e["details"]["n"] for e in events] == ["during"]
    assert "operator_details" in events[0]  # the operator's view


def test_a_late_commit_with_an_earlier_time_is_sent_once(
    admin: TestClient, sessions: sessionmaker[Session]
) -> None:
    def two() -> None:
        record(sessions, details={"n": "first"})
        threading.Event().wait(0.4)  # the stream has sent "first" by now
        record(sessions, ago_s=2, details={"n": "late"})  # another thread's older `now`

    writer = later(0.2, two)
    events = read(admin, "timeout=1.5")
    writer.join()
    assert sorted(e["details"]["n"] for e in events) == ["first", "late"]


def test_filters_and_resume_after_an_event(
    admin: TestClient, sessions: sessionmaker[Session]
) -> None:
    first = record(sessions, severity="info", ago_s=3)
    second = record(sessions, severity="critical", type="pool.operating_status", ago_s=2)
    third = record(sessions, severity="warning", ago_s=1)
    assert [e["id"] for e in read(admin, f"after={first}&timeout=0")] == [second, third]
    resumed = read(admin, "after=x&timeout=0", headers={"Last-Event-ID": second})
    assert [e["id"] for e in resumed] == [third]  # the header wins: what EventSource sends
    since = (utcnow() - timedelta(seconds=10)).isoformat()
    assert [e["id"] for e in read(admin, f"since={since}&severity=critical&timeout=0")] == [second]
    both = read(admin, f"since={since}&type=member.operating_status&timeout=0")
    assert [e["id"] for e in both] == [first, third]


def test_heartbeats_keep_the_stream_open(admin: TestClient) -> None:
    with admin.stream("GET", f"{STREAM}?timeout=1.3&heartbeat=1") as response:
        text = "".join(response.iter_text())
    assert text.startswith("retry: 1000\n\n")
    assert ": keep-alive\n\n" in text


@pytest.mark.parametrize(
    "query",
    [
        "timeout=-1",
        "timeout=nan",
        "timeout=1e99",
        "heartbeat=0",
        "colour=red",
        "after=no-such-event",
        "since=yesterday",
        "type=" + "x" * 300,
    ],
)
def test_bad_parameters_are_400(admin: TestClient, query: str) -> None:
    response = admin.get(f"{STREAM}?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["faultstring"]


def test_tenants_are_refused(make_client: MakeClient) -> None:
    response = make_client().get(f"{STREAM}?timeout=0")
    assert response.status_code == 403
