"""Migration 0011 (events and alerts): on a fresh database, on one that has been serving (its
events keep their details and get no operator details; a webhook and a delivery can be
written), and back to 0009."""

from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine

from steelyard.db import models as m
from steelyard.db.engine import make_engine, make_sessionmaker, sqlite_url
from steelyard.db.events import record_event
from steelyard.db.migrate import alembic_config, upgrade
from tests.unit.db.test_events_migration import IDS, differences, serve_at_0001

NEW_TABLES = {"webhooks", "webhook_deliveries"}
T = datetime(2026, 1, 1)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(sqlite_url(tmp_path))


def event_columns(engine: Engine) -> set[str]:
    return {column["name"] for column in sa.inspect(engine).get_columns("events")}


def test_a_fresh_database_has_the_tables_and_matches_the_models(engine: Engine) -> None:
    upgrade(engine)
    assert set(sa.inspect(engine).get_table_names()) >= NEW_TABLES
    assert "operator_details" in event_columns(engine)
    assert differences(engine) == []


def test_a_serving_database_keeps_its_events(engine: Engine) -> None:
    serve_at_0001(engine)
    command.upgrade(alembic_config(engine), "0009")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO events (id, created_at, type, severity, loadbalancer_id, project_id,"
                " message, details) VALUES ('e1', :at, 'protection.breach', 'warning', :lb,"
                " 'p1', 'm', '{\"rejected\": 5}')"
            ).bindparams(at=T, lb=IDS["l"])
        )

    upgrade(engine)

    assert differences(engine) == []
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        old = session.get_one(m.Event, "e1")
        assert old.details == {"rejected": 5} and old.operator_details is None
        session.add(
            m.Webhook(id="w1", name="ops", url="http://127.0.0.1:9/", secret_sealed=b"x",
                      enabled=True, event_types=[], severities=[], loadbalancer_ids=[],
                      project_ids=[], created_at=T)
        )  # fmt: skip
        session.flush()
        record_event(session, type="loadbalancer.deleted", severity="info", message="m",
                     loadbalancer_id=IDS["l"], now=T)  # fmt: skip
    with sessions() as session:
        (delivery,) = session.scalars(sa.select(m.WebhookDelivery)).all()
        assert (delivery.webhook_id, delivery.state) == ("w1", "pending")


def test_downgrade_to_0009_and_up_again(engine: Engine) -> None:
    serve_at_0001(engine)
    upgrade(engine)
    command.downgrade(alembic_config(engine), "0009")
    assert not NEW_TABLES & set(sa.inspect(engine).get_table_names())
    assert "operator_details" not in event_columns(engine)
    upgrade(engine)
    assert differences(engine) == []
