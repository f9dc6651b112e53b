"""Local administration of one host's state directory (bootstrapping and clean-up), used by
`steelyard keys create` and `steelyard cleanup`. These work on the files directly because
they must work before any API key exists and after the server has crashed."""

from pathlib import Path

from steelyard.agent.registry import ApplianceRegistry
from steelyard.db.apikeys import create_api_key
from steelyard.db.engine import make_engine, make_sessionmaker, sqlite_url
from steelyard.db.migrate import upgrade
from steelyard.network.cleanup import purge


def create_key(state_dir: Path, project: str, role: str, description: str) -> str:
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = make_engine(sqlite_url(state_dir))
    try:
        upgrade(engine)
        with make_sessionmaker(engine)() as session:
            key = create_api_key(session, project, role, description)
            session.commit()
        return key
    finally:
        engine.dispose()


def cleanup_host(state_dir: Path, prefix: str) -> list[str]:
    """Stop every HAProxy the agent of `state_dir` started, remove its files, and remove the
    namespaces, veths and bridges of `prefix`. Returns what was removed."""
    removed: list[str] = []
    agent_dir = state_dir / "agent"
    try:
        if agent_dir.is_dir():
            registry = ApplianceRegistry(agent_dir)
            for name in registry.names():
                if registry.delete(name):
                    removed.append(f"appliance {name}")
    finally:  # the namespaces, links and bridges go even if an appliance could not be read
        removed.extend(purge(prefix))
    return removed
