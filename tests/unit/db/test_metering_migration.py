"""Migration 0012 (metering): on a fresh database, on one that has been serving (its listener
keeps its counters, the new ones start at 0, and all hold 64-bit values), and back to 0009."""

from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine

from steelyard.db import models as m
from steelyard.db.engine import make_engine, make_sessionmaker, sqlite_url
from steelyard.db.migrate import alembic_config, upgrade
from tests.unit.db.test_events_migration import IDS, differences, serve_at_0001

NEW_TABLES = {
    "pool_stats",
    "member_stats",
    "appliance_listener_stats",
    "usage_records",
    "usage_meters",
}


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(sqlite_url(tmp_path))


def test_a_fresh_database_has_the_tables_and_matches_the_models(engine: Engine) -> None:
    upgrade(engine)
    assert set(sa.inspect(engine).get_table_names()) >= NEW_TABLES
    assert differences(engine) == []


def test_a_serving_database_keeps_its_listener_counters(engine: Engine) -> None:
    serve_at_0001(engine)
    command.upgrade(alembic_config(engine), "0009")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO listener_stats VALUES (:l, :lb, 11, 22, 3, 44, 5, :at)"
            ).bindparams(l=IDS["p"], lb=IDS["l"], at=datetime(2026, 1, 1))
        )

    upgrade(engine)

    assert differences(engine) == []
    with make_sessionmaker(engine).begin() as session:
        row = session.get_one(m.ListenerStats, IDS["p"])
        assert (row.bytes_in, row.total_connections, row.request_errors) == (11, 44, 5)
        assert (row.hrsp_2xx, row.connection_errors, row.requests) == (0, 0, 0)
        row.bytes_out = 2**62  # counters are 64-bit
    with make_sessionmaker(engine)() as session:
        assert session.get_one(m.ListenerStats, IDS["p"]).bytes_out == 2**62


def test_downgrade_to_0009_and_up_again(engine: Engine) -> None:
    serve_at_0001(engine)
    upgrade(engine)
    command.downgrade(alembic_config(engine), "0009")
    names = set(sa.inspect(engine).get_table_names())
    assert not NEW_TABLES & names
    columns = {c["name"] for c in sa.inspect(engine).get_columns("listener_stats")}
    assert "hrsp_2xx" not in columns and "bytes_in" in columns
    upgrade(engine)
    assert differences(engine) == []
