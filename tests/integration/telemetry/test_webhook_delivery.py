"""The webhook dispatcher against real HTTP receivers on 127.0.0.1, over a migrated SQLite
file: signed deliveries, retries with backoff until a flaky receiver answers, dead letters (an
event themselves, sent to the other webhooks) and their manual retry, deliveries that survive
a restart of the dispatcher, and destinations outside the allow list."""

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from steelyard.db import models as m
from steelyard.db.access import utcnow
from steelyard.db.engine import make_engine, make_sessionmaker, sqlite_url
from steelyard.db.events import record_event
from steelyard.db.migrate import upgrade
from steelyard.db.secret_box import SecretBox
from steelyard.db.webhooks import claim_due, create_webhook, retry_delivery, seal_context
from steelyard.model.webhook import WebhookCreate, parse_networks
from steelyard.telemetry import webhooks
from steelyard.telemetry.webhook_signature import EVENT_TYPE_HEADER, RetryPolicy
from steelyard.telemetry.webhooks import WebhookDispatcher
from tests.e2e.harness import wait_until
from tests.support.webhook_receiver import receiving

KEY = bytes(range(32))
SECRET = "s3cret-s3cret-s3cret"
FAST = RetryPolicy(max_attempts=3, base_s=0.05, cap_s=0.2)


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(sqlite_url(tmp_path))
    upgrade(engine)
    return make_sessionmaker(engine)


@pytest.fixture
def dispatcher(sessions: sessionmaker[Session]) -> Iterator[WebhookDispatcher]:
    running = WebhookDispatcher(sessions, SecretBox(KEY), utcnow, FAST, poll_s=0.05)
    running.start()
    yield running
    running.stop()


def add_webhook(sessions: sessionmaker[Session], url: str, **filters: Any) -> str:
    ident = str(uuid.uuid4())
    body = WebhookCreate.model_validate({"url": url, "secret": SECRET, **filters})
    with sessions.begin() as session:
        sealed = SecretBox(KEY).seal(SECRET, seal_context(ident))
        create_webhook(session, body, sealed, utcnow(), ident)
    return ident


def alert(sessions: sessionmaker[Session], **fields: Any) -> str:
    with sessions.begin() as session:
        return record_event(
            session,
            **{"type": "pool.no_healthy_member", "severity": "critical", "message": "down",
               "details": {"pool_id": "p"}, **fields},
            now=utcnow(),
        )  # fmt: skip


def deliveries(sessions: sessionmaker[Session], webhook_id: str) -> list[m.WebhookDelivery]:
    with sessions() as session:
        D = m.WebhookDelivery
        return list(session.scalars(select(D).where(D.webhook_id == webhook_id)))


def delivered(sessions: sessionmaker[Session], webhook_id: str) -> list[m.WebhookDelivery]:
    found = deliveries(sessions, webhook_id)
    return found if found and all(d.state == "delivered" for d in found) else []


def test_a_signed_alert_reaches_the_receiver(
    sessions: sessionmaker[Session], dispatcher: WebhookDispatcher
) -> None:
    with receiving(SECRET) as receiver:
        hook = add_webhook(sessions, receiver.url)
        event = alert(sessions)
        dispatcher.wake()
        wait_until(lambda: receiver.event_ids() == [event], timeout_s=10)
    (got,) = receiver.received
    assert got.verified and got.path == "/alerts"
    assert got.headers[EVENT_TYPE_HEADER] == "pool.no_healthy_member"
    assert got.headers["Content-Type"] == "application/json"
    assert b'"id":"' + event.encode() in got.body
    # the dispatcher records the answer once the receiver has sent it
    (delivery,) = wait_until(lambda: delivered(sessions, hook), timeout_s=10)
    assert (delivery.attempts, delivery.last_status_code) == (1, 200)


def test_a_flaky_receiver_gets_it_after_retries(
    sessions: sessionmaker[Session], dispatcher: WebhookDispatcher
) -> None:
    with receiving(SECRET, fail_first=2) as receiver:
        hook = add_webhook(sessions, receiver.url)
        event = alert(sessions)
        wait_until(lambda: receiver.event_ids() == [event], timeout_s=10)
    assert [r.answered for r in receiver.received] == [500, 500, 200]
    assert all(r.verified for r in receiver.received)
    (delivery,) = wait_until(lambda: delivered(sessions, hook), timeout_s=10)
    assert delivery.attempts == 3


def test_a_dead_letter_is_an_alert_and_can_be_retried(
    sessions: sessionmaker[Session], dispatcher: WebhookDispatcher
) -> None:
    with receiving(SECRET, always_fail=True) as broken, receiving(SECRET) as healthy:
        failing = add_webhook(sessions, broken.url, event_types=["pool.*"])
        add_webhook(sessions, healthy.url)
        event = alert(sessions)

        def dead() -> bool:
            return [d.state for d in deliveries(sessions, failing)] == ["dead"]

        wait_until(dead, timeout_s=10)
        assert len(broken.received) == FAST.max_attempts
        # the other webhook hears of the dead letter (the failing one is not told: it
        # would only fail again, and its filter wants pool.* anyway)
        wait_until(lambda: len(healthy.event_ids()) == 2, timeout_s=10)
        with sessions() as session:
            (letter,) = session.scalars(
                select(m.Event).where(m.Event.type == "webhook.dead_letter")
            ).all()
        assert letter.severity == "critical"
        assert letter.details["webhook_id"] == failing and letter.details["event_id"] == event
        assert healthy.event_ids() == [event, letter.id]

        broken.always_fail = False
        (delivery,) = deliveries(sessions, failing)
        with sessions.begin() as session:
            retry_delivery(session, failing, delivery.id, utcnow())
        dispatcher.wake()
        wait_until(lambda: broken.event_ids() == [event], timeout_s=10)
    (delivery,) = wait_until(lambda: delivered(sessions, failing), timeout_s=10)
    assert delivery.attempts == 1


def test_queued_deliveries_survive_a_restart(sessions: sessionmaker[Session]) -> None:
    with receiving(SECRET) as receiver:
        add_webhook(sessions, receiver.url)
        event = alert(sessions)  # no dispatcher runs: the delivery waits in the database
        restarted = WebhookDispatcher(sessions, SecretBox(KEY), utcnow, FAST, poll_s=0.05)
        restarted.start()
        try:
            wait_until(lambda: receiver.event_ids() == [event], timeout_s=10)
        finally:
            restarted.stop()


def test_a_destination_outside_the_allow_list_is_dead_at_once(
    sessions: sessionmaker[Session],
) -> None:
    hook = add_webhook(sessions, "http://198.18.0.9:9/alerts")
    alert(sessions)
    only_loopback = WebhookDispatcher(
        sessions, SecretBox(KEY), utcnow, FAST, allowed=parse_networks("127.0.0.0/8")
    )
    try:
        assert only_loopback.run_once() == 1
    finally:
        only_loopback.stop()
    (delivery,) = deliveries(sessions, hook)
    assert (delivery.state, delivery.attempts) == ("dead", 1)
    assert "allow list" in (delivery.last_error or "")


def test_the_claim_holds_a_delivery_while_it_is_sent(sessions: sessionmaker[Session]) -> None:
    add_webhook(sessions, "http://127.0.0.1:9/")
    alert(sessions)
    now = utcnow()
    with sessions.begin() as session:
        assert len(claim_due(session, now, timedelta(seconds=15), 10)) == 1
    with sessions.begin() as session:
        assert claim_due(session, now + timedelta(seconds=1), timedelta(seconds=15), 10) == []
        assert len(claim_due(session, now + timedelta(seconds=16), timedelta(seconds=15), 10)) == 1


class CountingTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return super().handle_request(request)


def test_two_dispatchers_on_one_database_send_each_delivery_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two dispatchers, each with its own engine on the same SQLite file (as two servers of a
    deployment would be): every delivery is claimed by one of them, sent once, recorded. Small
    batches over a backlog make them take turns (how they split it is printed, not judged)."""
    monkeypatch.setattr(webhooks, "BATCH", 4)
    engines = [make_engine(sqlite_url(tmp_path)) for _ in range(2)]
    upgrade(engines[0])
    sessions = [make_sessionmaker(engine) for engine in engines]
    transports = [CountingTransport(), CountingTransport()]
    dispatchers = [
        WebhookDispatcher(own, SecretBox(KEY), utcnow, FAST, poll_s=0.01, transport=transport)
        for own, transport in zip(sessions, transports, strict=True)
    ]
    with receiving(SECRET) as receiver:
        hook = add_webhook(sessions[0], receiver.url)
        events = [alert(sessions[index % 2], details={"n": index}) for index in range(40)]
        for running in dispatchers:
            running.start()
        try:
            wait_until(lambda: len(delivered(sessions[1], hook)) == len(events), timeout_s=30)
        finally:
            for running in dispatchers:
                running.stop()
    print(f"sent by each dispatcher: {[t.sent for t in transports]}")
    assert sum(t.sent for t in transports) == len(events)
    assert sorted(receiver.event_ids()) == sorted(events)  # each once, none twice
    assert len(receiver.received) == len(events) and all(r.verified for r in receiver.received)
    assert {d.attempts for d in deliveries(sessions[0], hook)} == {1}
