"""Migration 0002 (protection settings and the event log): on a fresh database, and on a
database that has been serving at 0001 (rows keep working, nothing protected by surprise)."""

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from steelyard.db import models as m
from steelyard.db.engine import make_engine, make_sessionmaker, sqlite_url
from steelyard.db.listeners import get_listener, update_listener
from steelyard.db.migrate import alembic_config, upgrade
from steelyard.db.operator import set_under_attack
from steelyard.model.listener import ListenerUpdate
from steelyard.model.protection import Protection

NOW = datetime(2026, 1, 1, 12, 0, 0)
IDS = {name: f"00000000-0000-4000-8000-00000000000{i}" for i, name in enumerate("nslp")}


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(sqlite_url(tmp_path))


def revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), m.Base.metadata))


def _filled(table: sa.Table, given: dict[str, Any]) -> dict[str, Any]:
    """A row of `table`: the given values, and a plain value for every other NOT NULL
    column."""
    plain = {sa.Integer: 0, sa.Boolean: False, sa.DateTime: NOW, sa.JSON: [], sa.String: "x"}
    row = dict(given)
    for column in table.columns:
        if column.name not in row and not column.nullable:
            kind = next(k for k in plain if isinstance(column.type, k))
            row[column.name] = plain[kind]
    return row


def serve_at_0001(engine: Engine) -> None:
    """A load balancer with an HTTP listener and a pool, written with 0001's schema."""
    command.upgrade(alembic_config(engine), "0001")
    metadata = sa.MetaData()
    metadata.reflect(engine)
    rows: dict[str, dict[str, Any]] = {
        "networks": {"id": IDS["n"], "name": "public", "kind": "loopback"},
        "subnets": {"id": IDS["s"], "network_id": IDS["n"], "cidr": "198.18.0.0/24"},
        "loadbalancers": {
            "id": IDS["l"],
            "project_id": "p1",
            "provisioning_status": "ACTIVE",
            "operating_status": "ONLINE",
            "vip_network_id": IDS["n"],
            "vip_subnet_id": IDS["s"],
            "desired_generation": 3,
            "applied_generation": 3,
        },
        "listeners": {
            "id": IDS["p"],
            "project_id": "p1",
            "loadbalancer_id": IDS["l"],
            "protocol": "HTTP",
            "protocol_port": 80,
            "provisioning_status": "ACTIVE",
            "operating_status": "ONLINE",
            "insert_headers": {},
        },
    }
    with engine.begin() as connection:
        for name, given in rows.items():
            table = metadata.tables[name]
            connection.execute(table.insert().values(_filled(table, given)))


def head(engine: Engine) -> str | None:
    """The newest revision: later migrations must keep these checks passing."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def test_a_fresh_database_matches_the_models(engine: Engine) -> None:
    upgrade(engine)

    assert revision(engine) == head(engine)
    assert differences(engine) == []


def test_a_serving_database_is_upgraded_with_its_rows(engine: Engine) -> None:
    serve_at_0001(engine)

    upgrade(engine)

    assert revision(engine) == head(engine) and differences(engine) == []
    with engine.connect() as connection:
        raw = connection.execute(
            sa.text("SELECT under_attack, protection_override FROM loadbalancers")
        ).one()
        assert tuple(raw) == (0, None)
        assert connection.execute(sa.text("SELECT protection FROM listeners")).one() == (None,)
        assert connection.execute(sa.text("SELECT count(*) FROM events")).scalar() == 0
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        listener = get_listener(session, "p1", IDS["p"])
        assert (listener.protection, listener.effective_protection) == (None, None)
        lb = session.get_one(m.LoadBalancer, IDS["l"])
        assert (lb.desired_generation, lb.under_attack, lb.protection_override) == (3, False, None)
    with sessions.begin() as session:
        set_under_attack(session, IDS["l"], True)
        body = ListenerUpdate(protection=Protection(max_connections=10))
        updated = update_listener(session, "p1", IDS["p"], body).result
    assert updated.effective_protection is not None
    assert updated.effective_protection.max_connections == 10
    assert updated.effective_protection.action == "tarpit"


def test_downgrade_keeps_the_rows_of_0001(engine: Engine) -> None:
    serve_at_0001(engine)
    upgrade(engine)

    command.downgrade(alembic_config(engine), "0001")

    assert revision(engine) == "0001"
    names = sa.inspect(engine).get_table_names()
    assert "events" not in names and "deployment_settings" not in names
    columns = {c["name"] for c in sa.inspect(engine).get_columns("loadbalancers")}
    assert "under_attack" not in columns
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM listeners")).scalar() == 1
    upgrade(engine)
    assert differences(engine) == []
