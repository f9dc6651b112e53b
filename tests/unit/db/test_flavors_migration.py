"""Migration 0005 (flavors, availability zones, their profiles, quotas): a fresh database, and
one that has been serving at 0004 (its load balancers keep their shape, nobody is limited)."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine

from steelyard.db import models as m
from steelyard.db.engine import make_engine, make_sessionmaker, sqlite_url
from steelyard.db.flavors import FLAVOR_PROFILES, create_flavor, create_profile, placement
from steelyard.db.migrate import alembic_config, upgrade
from steelyard.db.quotas import effective_limits, set_defaults, usage
from steelyard.model.enums import Topology
from steelyard.model.flavor import FlavorCreate, FlavorProfileCreate
from steelyard.model.quota import QuotaUpdate
from tests.unit.db.test_events_migration import IDS, differences, serve_at_0001

NEW_TABLES = {"flavor_profiles", "flavors", "availability_zone_profiles", "availability_zones"}


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(sqlite_url(tmp_path))


def serve_at_0004(engine: Engine) -> None:
    serve_at_0001(engine)
    command.upgrade(alembic_config(engine), "0004")


def test_a_fresh_database_has_the_tables(engine: Engine) -> None:
    upgrade(engine)

    assert NEW_TABLES | {"quotas"} <= set(sa.inspect(engine).get_table_names())
    assert differences(engine) == []


def test_a_serving_database_is_upgraded_with_its_rows(engine: Engine) -> None:
    serve_at_0004(engine)

    upgrade(engine)

    assert differences(engine) == []
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        lb = session.get_one(m.LoadBalancer, IDS["l"])
        assert (lb.appliance_count, lb.flavor_id, lb.availability_zone) == (1, None, None)
        assert set(effective_limits(session, "p1").values()) == {-1}
        assert usage(session, "p1", ["load_balancer", "listener"]) == {
            "load_balancer": 1,
            "listener": 1,
        }
    with sessions.begin() as session:
        data = '{"loadbalancer_topology": "ACTIVE_STANDBY"}'
        body = FlavorProfileCreate(name="ha", provider_name="appliance", flavor_data=data)
        profile = create_profile(session, FLAVOR_PROFILES, body).result
        flavor = create_flavor(
            session, FlavorCreate(name="ha", flavor_profile_id=profile.model_dump()["id"])
        ).result
        chosen = placement(session, flavor.id, None, None, Topology.SINGLE)
        set_defaults(session, QuotaUpdate(load_balancer=10))
    assert (chosen.provider, chosen.shape.topology, chosen.shape.appliance_count) == (
        "appliance",
        Topology.ACTIVE_STANDBY,
        2,
    )


def test_downgrade_keeps_the_rows_of_0004(engine: Engine) -> None:
    serve_at_0004(engine)
    upgrade(engine)
    with make_sessionmaker(engine).begin() as session:
        set_defaults(session, QuotaUpdate(pool=3))

    command.downgrade(alembic_config(engine), "0004")

    names = set(sa.inspect(engine).get_table_names())
    assert not (NEW_TABLES | {"quotas"}) & names
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM loadbalancers")).scalar() == 1
        settings = connection.execute(sa.text("SELECT key FROM deployment_settings")).all()
        assert settings == []
    upgrade(engine)
    assert differences(engine) == []
