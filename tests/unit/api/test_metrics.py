from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from steelyard.db import models

Factory = Callable[..., dict[str, Any]]


def test_metrics_expose_listener_counters_and_rejections_to_admins(
    make_lb: Factory,
    make_listener: Factory,
    make_client: Callable[..., TestClient],
    sessions: sessionmaker[Session],
) -> None:
    lb = make_lb()
    listener = make_listener(lb["id"])
    with sessions.begin() as session:
        session.add(
            models.ListenerStats(
                listener_id=listener["id"], loadbalancer_id=lb["id"], bytes_in=11, bytes_out=22,
                active_connections=3, total_connections=44, request_errors=5,
                updated_at=datetime(2026, 1, 1),
            )
        )  # fmt: skip
        session.add(
            models.ListenerRejections(
                listener_id=listener["id"], reason="req_rate", loadbalancer_id=lb["id"],
                count=99, updated_at=datetime(2026, 1, 1),
            )
        )  # fmt: skip

    admin = make_client(project=None)
    response = admin.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    labels = (
        f'loadbalancer_id="{lb["id"]}",listener_id="{listener["id"]}",'
        f'project_id="{lb["project_id"]}"'
    )
    lines = response.text.splitlines()
    assert f"steelyard_listener_bytes_in_total{{{labels}}} 11" in lines
    assert f"steelyard_listener_connections_total{{{labels}}} 44" in lines
    assert f"steelyard_listener_active_connections{{{labels}}} 3" in lines
    assert f'steelyard_listener_rejections_total{{{labels},reason="req_rate"}} 99' in lines
    assert "# TYPE steelyard_listener_active_connections gauge" in lines


def test_metrics_are_for_admins_only(make_client: Callable[..., TestClient]) -> None:
    member = make_client()  # noauth with a project: a member of it
    assert member.get("/metrics").status_code == 403
    assert "faultstring" in member.get("/metrics").json()
