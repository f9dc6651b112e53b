"""The event log and the stored protection layers, as the controller reads them, on a real,
migrated SQLite file."""

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from steelyard.db import models as m
from steelyard.db.engine import make_engine, make_sessionmaker, sqlite_url
from steelyard.db.events import record_event
from steelyard.db.listeners import create_listener
from steelyard.db.loadbalancers import create_loadbalancer
from steelyard.db.migrate import upgrade
from steelyard.db.networks import ensure_default_network
from steelyard.db.operator import set_defaults, set_override, set_under_attack
from steelyard.db.protection import listener_effective, listener_protection, protection_layers
from steelyard.model.enums import ListenerProtocol
from steelyard.model.listener import ListenerCreate
from steelyard.model.loadbalancer import LoadBalancerCreate
from steelyard.model.protection import UNDER_ATTACK, Protection, effective_protection

NOW = datetime(2026, 3, 1, 12, 0, 0)


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(sqlite_url(tmp_path))
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        ensure_default_network(
            session, name="public", cidr="198.18.0.0/24", kind="loopback", bridge=None
        )
    return sessions


@pytest.fixture
def lb_id(sessions: sessionmaker[Session]) -> str:
    with sessions.begin() as session:
        return create_loadbalancer(session, LoadBalancerCreate(), "p1", "public").loadbalancer_id


def add_listener(
    sessions: sessionmaker[Session], lb_id: str, port: int, protection: Protection | None
) -> str:
    """An HTTP listener on port 80, TCP on others."""
    protocol = ListenerProtocol.HTTP if port == 80 else ListenerProtocol.TCP
    body = ListenerCreate(
        loadbalancer_id=lb_id, protocol=protocol, protocol_port=port, protection=protection
    )
    with sessions.begin() as session:
        return create_listener(session, None, body).result.id


def test_record_event_fills_the_project_and_returns_the_id(
    sessions: sessionmaker[Session], lb_id: str
) -> None:
    with sessions.begin() as session:
        ident = record_event(
            session,
            type="protection.breach",
            severity="warning",
            message="req_rate_per_source exceeded",
            loadbalancer_id=lb_id,
            listener_id="l1",
            details={"rejected": 12},
            now=NOW,
        )
        bare = record_event(session, type="x", severity="info", message="", now=NOW)

    with sessions() as session:
        row = session.get_one(m.Event, ident)
        assert (row.project_id, row.loadbalancer_id, row.listener_id) == ("p1", lb_id, "l1")
        assert (row.created_at, row.details, row.severity) == (NOW, {"rejected": 12}, "warning")
        empty = session.get_one(m.Event, bare)
        assert (empty.project_id, empty.details) == (None, {})


def test_record_event_refuses_unknown_severities(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, pytest.raises(ValueError, match="severity"):
        record_event(session, type="x", severity="fatal", message="", now=NOW)


def test_layers_for_the_controller(sessions: sessionmaker[Session], lb_id: str) -> None:
    tenant = Protection(req_rate_per_source=1000, req_rate_period_s=1)
    http = add_listener(sessions, lb_id, 80, tenant)
    tcp = add_listener(sessions, lb_id, 22, None)
    defaults = Protection(max_conn_per_source=80, req_rate_per_source=500)
    override = Protection(req_rate_per_source=100, req_rate_period_s=10)
    with sessions.begin() as session:
        assert protection_layers(session, lb_id) == (None, ())
        set_defaults(session, defaults)
        set_override(session, lb_id, override)
        set_under_attack(session, lb_id, True)

    with sessions() as session:
        layers = protection_layers(session, lb_id)
        assert layers == (defaults, (override, UNDER_ATTACK))
        http_row, tcp_row = session.get_one(m.Listener, http), session.get_one(m.Listener, tcp)
        assert listener_protection(http_row) == tenant
        assert listener_protection(tcp_row) is None
        assert listener_effective(http_row, layers) == effective_protection(tenant, *layers)
        tcp_spec = listener_effective(tcp_row, layers)
    assert tcp_spec is not None
    assert (tcp_spec.max_conn_per_source, tcp_spec.action) == (20, "reject")
    assert tcp_spec.req_rate_per_source is None and tcp_spec.max_header_bytes is None
