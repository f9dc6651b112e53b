"""Migration 0013 (hosts, load balancers' migration hosts, repair requests): on a fresh
database, on one that has been serving (its appliances' host becomes an UNDECLARED host at the
next start, its load balancer's repairs work), and back to 0009."""

from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine

from steelyard.db import models as m
from steelyard.db.engine import make_engine, make_sessionmaker, sqlite_url
from steelyard.db.hosts import placement_candidates, sync_hosts
from steelyard.db.migrate import alembic_config, upgrade
from steelyard.db.repair import request_operator_resync
from steelyard.model.repair import HostDeclaration
from tests.unit.db.test_events_migration import IDS, serve_at_0001

TABLES = {"hosts", "loadbalancer_hosts", "repair_requests"}
T0 = datetime(2026, 11, 26, 5, 0)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(sqlite_url(tmp_path))


def tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_a_fresh_database_has_the_tables(engine: Engine) -> None:
    upgrade(engine)
    assert tables(engine) >= TABLES
    columns = {c["name"] for c in sa.inspect(engine).get_columns("hosts")}
    assert columns == {"name", "capacity", "state", "host_group", "created_at", "updated_at"}


def test_a_serving_database_upgrades_and_its_machine_becomes_a_host(engine: Engine) -> None:
    serve_at_0001(engine)
    command.upgrade(alembic_config(engine), "0009")
    assert not TABLES & tables(engine)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO appliances (id, loadbalancer_id, name, slot, role, status, "
                "compute_driver, host, vip_address, applied_generation, created_at) VALUES "
                "('ap-1', :lb, 'old-0', 0, 'STANDALONE', 'ALLOCATED', 'netns', 'machine', "
                "'198.18.0.5', 1, '2026-11-26 00:00:00')"
            ),
            {"lb": IDS["l"]},
        )

    upgrade(engine)

    assert tables(engine) >= TABLES
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        sync_hosts(session, [HostDeclaration("a"), HostDeclaration("b", 4)], T0)
        assert session.get_one(m.Host, "machine").state == "UNDECLARED"
        assert placement_candidates(session, IDS["l"], None, "unused") == ["a", "b"]
        repair = request_operator_resync(session, IDS["l"], T0).result
        assert repair.action == "resync"


def test_downgrade_to_0009_and_up_again(engine: Engine) -> None:
    upgrade(engine)
    command.downgrade(alembic_config(engine), "0009")
    assert not TABLES & tables(engine)
    upgrade(engine)
    assert tables(engine) >= TABLES
