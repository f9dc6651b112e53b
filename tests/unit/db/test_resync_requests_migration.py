"""Migration 0016 (resync requests counted): a serving load balancer keeps its row with a
count of 0, a resync counts, and back to 0015 the column goes and the row stays."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine

from steelyard.db import models as m
from steelyard.db.engine import make_engine, make_sessionmaker, sqlite_url
from steelyard.db.migrate import alembic_config, upgrade
from steelyard.db.operating import request_resync
from tests.unit.db.test_events_migration import IDS, differences, serve_at_0001


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(sqlite_url(tmp_path))


def lb_columns(engine: Engine) -> set[str]:
    return {column["name"] for column in sa.inspect(engine).get_columns("loadbalancers")}


def serve_at_0015(engine: Engine) -> None:
    serve_at_0001(engine)
    command.upgrade(alembic_config(engine), "0015")


def test_a_serving_load_balancer_counts_resyncs_from_zero(engine: Engine) -> None:
    serve_at_0015(engine)
    assert "resyncs_requested" not in lb_columns(engine)

    upgrade(engine)

    assert [d for d in differences(engine) if "loadbalancers" in repr(d)] == []
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        lb = session.get_one(m.LoadBalancer, IDS["l"])
        assert (lb.resyncs_requested, lb.applied_generation) == (0, 3)
        request_resync(session, IDS["l"])
    with sessions() as session:
        lb = session.get_one(m.LoadBalancer, IDS["l"])
        assert (lb.resyncs_requested, lb.applied_generation) == (1, 0)


def test_downgrade_to_0015_keeps_the_load_balancer(engine: Engine) -> None:
    serve_at_0015(engine)
    command.upgrade(alembic_config(engine), "0016")

    command.downgrade(alembic_config(engine), "0015")

    assert "resyncs_requested" not in lb_columns(engine)
    with engine.connect() as connection:
        row = connection.execute(sa.text("SELECT id, desired_generation FROM loadbalancers")).one()
    assert tuple(row) == (IDS["l"], 3)
