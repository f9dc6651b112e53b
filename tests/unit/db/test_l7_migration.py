"""Migration 0006 (L7 policies and rules): on a fresh database, and on a database that has been
serving (its listener takes policies afterwards, and routes as before until it does)."""

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine

from steelyard.db import models as m
from steelyard.db.engine import make_engine, make_sessionmaker, sqlite_url
from steelyard.db.l7 import create_policy
from steelyard.db.migrate import alembic_config, upgrade
from steelyard.db.snapshot import load_snapshot
from steelyard.model.l7 import PolicyCreate
from tests.unit.db.test_events_migration import IDS, differences, serve_at_0001

L7_TABLES = ("l7policies", "l7rules")


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(sqlite_url(tmp_path))


def l7_differences(engine: Engine) -> list[Any]:
    """Differences between the models and the database that concern the L7 tables."""
    return [diff for diff in differences(engine) if any(name in str(diff) for name in L7_TABLES)]


def test_a_fresh_database_has_the_l7_tables_of_the_models(engine: Engine) -> None:
    upgrade(engine)

    assert set(L7_TABLES) <= set(sa.inspect(engine).get_table_names())
    assert l7_differences(engine) == []


def test_a_serving_database_gets_empty_l7_tables_and_takes_policies(engine: Engine) -> None:
    serve_at_0001(engine)

    upgrade(engine)

    assert l7_differences(engine) == []
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        before = load_snapshot(session, IDS["l"])
        assert before is not None and before.spec.listeners[0].l7policies == ()
    rule = {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}
    body = PolicyCreate.model_validate(
        {"listener_id": IDS["p"], "action": "REJECT", "rules": [rule]}, strict=False
    )
    with sessions.begin() as session:
        created = create_policy(session, "p1", body).result
    assert created.position == 1 and len(created.rules) == 1
    with sessions() as session:
        after = load_snapshot(session, IDS["l"])
        assert after is not None
        (policy,) = after.spec.listeners[0].l7policies
        assert policy.rules[0].value == "/api"
        assert session.get_one(m.LoadBalancer, IDS["l"]).desired_generation == 4


def test_downgrade_below_0006_drops_only_the_l7_tables(engine: Engine) -> None:
    serve_at_0001(engine)
    upgrade(engine)

    command.downgrade(alembic_config(engine), "0006@0004")

    names = sa.inspect(engine).get_table_names()
    assert not set(L7_TABLES) & set(names)
    assert {"listeners", "loadbalancers"} <= set(names)
