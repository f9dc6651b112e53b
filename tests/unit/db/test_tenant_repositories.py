"""API keys and the default network, on a real, migrated SQLite file."""

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from steelyard.db import models as m
from steelyard.db.apikeys import create_api_key, verify_api_key
from steelyard.db.engine import make_engine, make_sessionmaker, sqlite_url
from steelyard.db.migrate import upgrade
from steelyard.db.networks import ensure_default_network, list_networks


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(sqlite_url(tmp_path))
    upgrade(engine)
    return make_sessionmaker(engine)


def test_api_key_round_trip_stores_only_a_hash(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        token = create_api_key(session, "p1", "member", "ci")

    assert token.startswith("sy_")
    with sessions() as session:
        assert verify_api_key(session, token) == ("p1", "member")
        row = session.scalars(select(m.ApiKey)).one()
    lookup, _, secret = token.removeprefix("sy_").partition(".")
    assert row.lookup == lookup and row.description == "ci"
    assert secret not in row.secret_hash and token not in row.secret_hash
    assert row.secret_hash.startswith("scrypt$")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + "xx",
        lambda t: t.replace("sy_", "xx_"),
        lambda t: t + "\n",
        lambda t: "sy_0000000000000000." + t.split(".")[1],
        lambda t: "",
        lambda t: t.split(".")[0],
    ],
)
def test_wrong_keys_are_refused(
    sessions: sessionmaker[Session], mangle: Callable[[str], str]
) -> None:
    with sessions.begin() as session:
        token = create_api_key(session, "p1", "reader")

    with sessions() as session:
        assert verify_api_key(session, mangle(token)) is None


def test_key_roles_and_projects_are_checked(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        with pytest.raises(ValueError):
            create_api_key(session, "p1", "root")
        with pytest.raises(ValueError):
            create_api_key(session, "p 1", "member")


def test_default_network_is_made_once(sessions: sessionmaker[Session]) -> None:
    for _ in range(2):
        with sessions.begin() as session:
            ensure_default_network(session, "public", "198.18.0.0/24", "bridge", None)

    with sessions() as session:
        (network,) = list_networks(session, None)
    assert (network.name, network.kind, network.shared) == ("public", "bridge", True)
    (subnet,) = network.subnets
    assert (subnet.cidr, subnet.gateway_ip) == ("198.18.0.0/24", "198.18.0.1")
