"""Migration 0009 (listener allowed_cidrs): on a fresh database, on one that has been serving
(its listener keeps letting everyone in), and back to 0008."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine

from steelyard.db.engine import make_engine, make_sessionmaker, sqlite_url
from steelyard.db.listeners import get_listener, update_listener
from steelyard.db.migrate import alembic_config, upgrade
from steelyard.db.snapshot import load_snapshot
from steelyard.model.listener import ListenerUpdate
from tests.unit.db.test_events_migration import IDS, differences, revision, serve_at_0001


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(sqlite_url(tmp_path))


def listener_columns(engine: Engine) -> set[str]:
    return {column["name"] for column in sa.inspect(engine).get_columns("listeners")}


def test_a_fresh_database_has_the_column_and_matches_the_models(engine: Engine) -> None:
    upgrade(engine)
    assert "allowed_cidrs" in listener_columns(engine)
    assert differences(engine) == []


def test_a_serving_database_keeps_its_listener_open_to_everyone(engine: Engine) -> None:
    serve_at_0001(engine)
    command.upgrade(alembic_config(engine), "0008")
    assert "allowed_cidrs" not in listener_columns(engine)

    upgrade(engine)

    assert differences(engine) == []
    with engine.connect() as connection:
        raw = connection.execute(sa.text("SELECT allowed_cidrs FROM listeners")).scalar()
        assert raw == "[]"
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        assert get_listener(session, "p1", IDS["p"]).allowed_cidrs is None
        snap = load_snapshot(session, IDS["l"])
        assert snap is not None and snap.spec.listeners[0].allowed_cidrs == ()
    with sessions.begin() as session:
        # serve_at_0001 leaves the VIP a placeholder; the family check needs a real one
        session.execute(sa.text("UPDATE loadbalancers SET vip_address = '198.18.0.5'"))
        body = ListenerUpdate.model_validate({"allowed_cidrs": ["198.51.100.0/24"]})
        updated = update_listener(session, "p1", IDS["p"], body).result
    assert updated.allowed_cidrs == ["198.51.100.0/24"]


def test_downgrade_to_0008_and_up_again(engine: Engine) -> None:
    serve_at_0001(engine)
    upgrade(engine)
    config = alembic_config(engine)

    command.downgrade(config, "0008")

    assert revision(engine) == "0008"
    assert "allowed_cidrs" not in listener_columns(engine)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM listeners")).scalar() == 1
    upgrade(engine)
    assert differences(engine) == []
