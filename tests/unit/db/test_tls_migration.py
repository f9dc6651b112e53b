"""Migration 0007 (the secret store, TLS attributes of listeners and pools): on a fresh
database, and on one that has been serving (its listener keeps working, TLS off), and back."""

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
from tests.unit.db.test_events_migration import IDS, differences, serve_at_0001

LISTENER_COLUMNS = {
    "default_tls_container_ref",
    "sni_container_refs",
    "client_authentication",
    "client_ca_tls_container_ref",
    "client_crl_container_ref",
    "tls_ciphers",
    "tls_versions",
    "alpn_protocols",
    "hsts_max_age",
    "hsts_include_subdomains",
    "hsts_preload",
}
POOL_COLUMNS = {
    "tls_enabled",
    "tls_container_ref",
    "ca_tls_container_ref",
    "crl_container_ref",
    "tls_ciphers",
    "tls_versions",
    "alpn_protocols",
}


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(sqlite_url(tmp_path))


def columns(engine: Engine, table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(engine).get_columns(table)}


def test_a_fresh_database_has_the_store_and_matches_the_models(engine: Engine) -> None:
    upgrade(engine)
    assert "secrets" in sa.inspect(engine).get_table_names()
    assert columns(engine, "listeners") >= LISTENER_COLUMNS
    assert columns(engine, "pools") >= POOL_COLUMNS
    assert differences(engine) == []


def test_a_serving_database_keeps_its_listener_with_tls_off(engine: Engine) -> None:
    serve_at_0001(engine)
    upgrade(engine)

    assert differences(engine) == []
    with engine.connect() as connection:
        raw = connection.execute(
            sa.text(
                "SELECT sni_container_refs, client_authentication, hsts_include_subdomains, "
                "hsts_preload, tls_versions FROM listeners"
            )
        ).one()
        assert tuple(raw) == ("[]", "NONE", 0, 0, None)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        listener = get_listener(session, "p1", IDS["p"])
        assert (listener.sni_container_refs, listener.client_authentication) == ([], "NONE")
        snap = load_snapshot(session, IDS["l"])
        assert snap is not None and snap.spec.listeners[0].tls is None
    with sessions.begin() as session:
        updated = update_listener(session, "p1", IDS["p"], ListenerUpdate(name="still")).result
    assert (updated.name, updated.tls_versions) == ("still", None)


def test_downgrade_to_0004_and_up_again(engine: Engine) -> None:
    serve_at_0001(engine)
    config = alembic_config(engine)
    command.upgrade(config, "0007")  # only this branch of 0004

    command.downgrade(config, "0004")

    assert "secrets" not in sa.inspect(engine).get_table_names()
    assert not LISTENER_COLUMNS & columns(engine, "listeners")
    assert not POOL_COLUMNS & columns(engine, "pools")
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM listeners")).scalar() == 1
    upgrade(engine)
    assert differences(engine) == []
