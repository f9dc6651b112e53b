"""Migration 0010 (flow and admin logs): on a fresh database, on one that has been serving
(its rows untouched), and back to 0009."""

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine

from steelyard.db.engine import make_engine, sqlite_url
from steelyard.db.migrate import alembic_config, upgrade
from tests.unit.db.test_events_migration import differences, serve_at_0001

TABLES = {"flow_logs", "admin_logs"}


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(sqlite_url(tmp_path))


def tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def mine(found: list[Any]) -> list[Any]:
    """Differences in this migration's tables (other features' branches are theirs to test)."""
    return [d for d in found if any(name in repr(d) for name in TABLES)]


def test_a_fresh_database_has_the_tables_indexes_and_matches_the_models(engine: Engine) -> None:
    upgrade(engine)
    assert tables(engine) >= TABLES
    indexes = {i["name"] for i in sa.inspect(engine).get_indexes("flow_logs")}
    assert {"ix_flow_logs_lb_time", "ix_flow_logs_lb_status", "ix_flow_logs_created_at"} <= indexes
    assert mine(differences(engine)) == []


def test_a_serving_database_upgrades_and_downgrades(engine: Engine) -> None:
    serve_at_0001(engine)
    config = alembic_config(engine)
    command.upgrade(config, "0009")
    assert not TABLES & tables(engine)

    command.upgrade(config, "0010")

    assert tables(engine) >= TABLES
    with engine.begin() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM listeners")).scalar() == 1
        connection.execute(
            sa.text(
                "INSERT INTO admin_logs (created_at, source, severity, message) "
                "VALUES ('2026-11-26 04:00:00', 'agent', 'info', 'x')"
            )
        )
    command.downgrade(config, "0009")
    assert not TABLES & tables(engine)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM listeners")).scalar() == 1
