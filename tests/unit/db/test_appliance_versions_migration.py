"""Migration 0014 (what each appliance's agent reported): on a fresh database, on one with a
serving appliance (kept, its new columns null until it is placed again), and back to 0009."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine

from steelyard.db.amphorae import get_amphora
from steelyard.db.appliances import record_agent
from steelyard.db.engine import make_engine, make_sessionmaker, sqlite_url
from steelyard.db.migrate import alembic_config, upgrade
from tests.unit.db.test_events_migration import IDS, differences, serve_at_0001

NEW = {"agent_version", "haproxy_version", "agent_address", "agent_cert_not_after"}
APPLIANCE = "00000000-0000-4000-8000-0000000000a1"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(sqlite_url(tmp_path))


def appliance_columns(engine: Engine) -> set[str]:
    return {column["name"] for column in sa.inspect(engine).get_columns("appliances")}


def appliance_differences(engine: Engine) -> list[object]:
    """Model/schema differences of the appliances table (other features' tables are theirs)."""
    return [d for d in differences(engine) if "appliances" in repr(d)]


def serve_an_appliance_at_0009(engine: Engine) -> None:
    serve_at_0001(engine)
    command.upgrade(alembic_config(engine), "0009")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO appliances (id, loadbalancer_id, name, slot, role, status, "
                "compute_driver, host, vip_address, applied_generation, heartbeat_seq, "
                "created_at) VALUES (:id, :lb, 'lb-0', 0, 'STANDALONE', 'ALLOCATED', 'netns', "
                "'h1', '198.18.0.5', 3, 7, '2026-11-26 01:00:00')"
            ),
            {"id": APPLIANCE, "lb": IDS["l"]},
        )


def test_a_fresh_database_has_the_columns_and_matches_the_models(engine: Engine) -> None:
    upgrade(engine)
    assert appliance_columns(engine) >= NEW
    assert appliance_differences(engine) == []


def test_a_serving_appliance_keeps_its_row_and_reports_versions_once_placed(
    engine: Engine,
) -> None:
    serve_an_appliance_at_0009(engine)
    assert not NEW & appliance_columns(engine)

    upgrade(engine)

    assert appliance_differences(engine) == []
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        before = get_amphora(session, APPLIANCE)
    assert (before.status, before.lb_network_ip, before.cert_expiration) == (
        "ALLOCATED",
        None,
        None,
    )
    assert before.agent_version is None and before.haproxy_version is None
    expiry = datetime(2027, 11, 26, 4, 0, tzinfo=UTC)
    with sessions.begin() as session:
        record_agent(
            session,
            "lb-0",
            agent_version="0.4.0",
            haproxy_version="2.6.12-1+deb12u2",
            agent_address="127.0.0.1",
            cert_not_after=expiry,
        )
    with sessions() as session:
        after = get_amphora(session, APPLIANCE)
    assert (after.agent_version, after.haproxy_version) == ("0.4.0", "2.6.12-1+deb12u2")
    assert after.lb_network_ip == "127.0.0.1"
    assert after.cert_expiration == datetime(2027, 11, 26, 4, 0)  # naive UTC, as stored


def test_downgrade_to_0009_keeps_the_appliance(engine: Engine) -> None:
    serve_an_appliance_at_0009(engine)
    command.upgrade(alembic_config(engine), "0014")

    command.downgrade(alembic_config(engine), "0009")

    assert not NEW & appliance_columns(engine)
    with engine.connect() as connection:
        row = connection.execute(sa.text("SELECT name, heartbeat_seq FROM appliances")).one()
    assert tuple(row) == ("lb-0", 7)
