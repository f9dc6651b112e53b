"""/v2/operator/webhooks: CRUD with a write-only secret, hostile input refused with Octavia's
fault body and nothing half-written, deliveries queued with events, the dead-letter list and
its retry; the server's allow list through Services.webhooks."""

import warnings
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from steelyard.api.app import create_app
from steelyard.api.services import Services
from steelyard.api.settings import ApiSettings
from steelyard.db import models as m
from steelyard.db.access import utcnow
from steelyard.db.events import record_event
from steelyard.db.secret_box import SecretBox
from steelyard.db.webhooks import seal_context
from steelyard.model.webhook import parse_networks
from steelyard.telemetry.webhooks import WebhookDispatcher

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

HOOKS = "/v2/operator/webhooks"
KEY = bytes(range(32))
SECRET = "s3cret-s3cret-s3cret"
Json = dict[str, Any]


@pytest.fixture
def dispatcher(sessions: sessionmaker[Session]) -> Iterator[WebhookDispatcher]:
    """The real dispatcher as the API's service (not started: nothing is sent here)."""
    made = WebhookDispatcher(
        sessions, SecretBox(KEY), utcnow, allowed=parse_networks("127.0.0.0/8,::1/128")
    )
    yield made
    made.stop()


@pytest.fixture
def admin(sessions: sessionmaker[Session], dispatcher: WebhookDispatcher) -> Iterator[TestClient]:
    app = create_app(
        ApiSettings(auth="noauth", secrets_key=KEY),
        sessions,
        lambda _: None,
        services=Services(webhooks=dispatcher),
    )
    with TestClient(app) as client:
        yield client


def create(admin: TestClient, **fields: Any) -> Json:
    body = {"url": "http://127.0.0.1:9/alerts", "secret": SECRET, **fields}
    response = admin.post(HOOKS, json={"webhook": body})
    assert response.status_code == 201, response.text
    hook: Json = response.json()["webhook"]
    return hook


def fault(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["faultcode"] == "Client" and body["debuginfo"] is None
    text: str = body["faultstring"]
    return text


def test_create_show_list_update_delete_and_the_secret_never_comes_back(
    admin: TestClient, sessions: sessionmaker[Session]
) -> None:
    hook = create(admin, name="ops", event_types=["member.*"], severities=["warning"])
    assert hook["secret_set"] is True and "secret" not in hook
    assert hook["event_types"] == ["member.*"] and hook["enabled"] is True
    with sessions() as session:
        row = session.get_one(m.Webhook, hook["id"])
        assert SECRET.encode() not in row.secret_sealed  # sealed at rest
        assert SecretBox(KEY).open(row.secret_sealed, seal_context(hook["id"])) == SECRET

    shown = admin.get(f"{HOOKS}/{hook['id']}").json()["webhook"]
    assert shown == hook
    listed = admin.get(HOOKS).json()
    assert [item["id"] for item in listed["webhooks"]] == [hook["id"]]
    assert SECRET not in admin.get(HOOKS).text

    changed = admin.put(
        f"{HOOKS}/{hook['id']}", json={"webhook": {"enabled": False, "event_types": []}}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["webhook"]["enabled"] is False
    assert changed.json()["webhook"]["event_types"] == []
    assert changed.json()["webhook"]["name"] == "ops"  # untouched

    assert admin.delete(f"{HOOKS}/{hook['id']}").status_code == 204
    fault(admin.get(f"{HOOKS}/{hook['id']}"), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"url": "http://127.0.0.1/\nX: y", "secret": SECRET},
        {"url": "gopher://127.0.0.1/", "secret": SECRET},
        {"url": "http://127.0.0.1/ a", "secret": SECRET},
        {"url": "http://127.0.0.1/" + "a" * 3000, "secret": SECRET},
        {"url": "http://127.0.0.1/", "secret": "short"},
        {"url": "http://127.0.0.1/", "secret": SECRET + "\n"},
        {"url": "http://127.0.0.1/", "secret": SECRET, "severities": ["loud"]},
        {"url": "http://127.0.0.1/", "secret": SECRET, "event_types": ["x'; drop"]},
        {"url": "http://127.0.0.1/", "secret": SECRET, "loadbalancer_ids": [7]},
        {"url": ["http://127.0.0.1/"], "secret": SECRET},
        {"secret": SECRET},
        {"url": "http://127.0.0.1/"},
    ],
)
def test_hostile_bodies_are_400_and_nothing_is_stored(
    admin: TestClient, sessions: sessionmaker[Session], body: Json
) -> None:
    fault(admin.post(HOOKS, json={"webhook": body}), 400)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(m.Webhook)) == 0


def test_the_allow_list_refuses_other_destinations(admin: TestClient) -> None:
    text = fault(
        admin.post(HOOKS, json={"webhook": {"url": "http://198.18.0.7/", "secret": SECRET}}), 400
    )
    assert "allow list" in text
    hook = create(admin)
    update = {"webhook": {"url": "https://alerts.example.com/"}}
    fault(admin.put(f"{HOOKS}/{hook['id']}", json=update), 400)
    assert admin.get(f"{HOOKS}/{hook['id']}").json()["webhook"]["url"] == hook["url"]


def test_unknown_ids_and_bad_queries(admin: TestClient) -> None:
    fault(admin.get(f"{HOOKS}/no-such"), 404)
    fault(admin.put(f"{HOOKS}/no-such", json={"webhook": {"enabled": True}}), 404)
    fault(admin.delete(f"{HOOKS}/no-such"), 404)
    fault(admin.get(f"{HOOKS}/no-such/deliveries"), 404)
    hook = create(admin)
    fault(admin.post(f"{HOOKS}/{hook['id']}/deliveries/nope/retry"), 404)
    fault(admin.get(f"{HOOKS}/{hook['id']}/deliveries?colour=red"), 400)
    fault(admin.get(f"{HOOKS}?limit=x"), 400)


def _event(sessions: sessionmaker[Session], **fields: Any) -> str:
    with sessions.begin() as session:
        return record_event(
            session,
            **{"type": "member.operating_status", "severity": "warning", "message": "m", **fields},
            now=datetime(2026, 3, 1, 12, 0, 0),
        )


def test_events_queue_deliveries_to_matching_webhooks_only(
    admin: TestClient, sessions: sessionmaker[Session]
) -> None:
    members = create(admin, event_types=["member.*"])
    critical = create(admin, severities=["critical"])
    disabled = create(admin, enabled=False)
    _event(sessions)
    _event(sessions, type="pool.operating_status", severity="critical")

    def queued(hook: Json) -> list[str]:
        page = admin.get(f"{HOOKS}/{hook['id']}/deliveries").json()["deliveries"]
        assert all(item["state"] == "pending" for item in page)
        return [item["event_type"] for item in page]

    assert queued(members) == ["member.operating_status"]
    assert queued(critical) == ["pool.operating_status"]
    assert queued(disabled) == []


def test_a_dead_letter_is_listed_and_retried_once(
    admin: TestClient, sessions: sessionmaker[Session]
) -> None:
    hook = create(admin)
    event = _event(sessions)
    with sessions.begin() as session:
        row = session.scalars(select(m.WebhookDelivery)).one()
        row.state, row.attempts, delivery = "dead", 8, row.id
    dead = admin.get(f"{HOOKS}/{hook['id']}/deliveries?state=dead").json()["deliveries"]
    assert [(d["id"], d["event_id"]) for d in dead] == [(delivery, event)]
    assert admin.get(f"{HOOKS}/{hook['id']}/deliveries?state=delivered").json()["deliveries"] == []

    retried = admin.post(f"{HOOKS}/{hook['id']}/deliveries/{delivery}/retry")
    assert retried.status_code == 202, retried.text
    assert retried.json()["delivery"]["state"] == "pending"
    assert retried.json()["delivery"]["attempts"] == 0
    text = fault(admin.post(f"{HOOKS}/{hook['id']}/deliveries/{delivery}/retry"), 409)
    assert "pending" in text
    other = create(admin)
    fault(admin.post(f"{HOOKS}/{other['id']}/deliveries/{delivery}/retry"), 404)


def test_without_a_key_a_secret_cannot_be_sealed(sessions: sessionmaker[Session]) -> None:
    app = create_app(ApiSettings(auth="noauth"), sessions, lambda _: None)
    with TestClient(app) as admin:
        body = {"webhook": {"url": "http://127.0.0.1/", "secret": SECRET}}
        fault_body = admin.post(HOOKS, json=body)
        assert fault_body.status_code == 503
        assert fault_body.json()["faultstring"]
