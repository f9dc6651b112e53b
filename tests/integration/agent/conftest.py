"""Fixtures: a short state dir whose HAProxy and keepalived processes are stopped at teardown
(by the PIDs the agent started, proven by their command line), a PKI, backends, and an
in-process agent."""

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from steelyard.agent.client import AgentClient
from steelyard.agent.haproxy_process import HAProxyProcess
from steelyard.agent.keepalived_process import KeepalivedProcess
from steelyard.agent.layout import appliances_dir, layout_for, read_netns, valid_name
from steelyard.agent.pki import PkiPaths, ensure_pki
from tests.integration.agent.helpers import Backend, ThreadedAgent


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    # UNIX socket paths under the state dir must fit in 107 bytes: pytest's tmp_path is too long.
    path = Path(tempfile.mkdtemp(prefix="sy-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def stop_all(state_dir: Path) -> None:
    """Stop every keepalived, then every HAProxy, the agent started under `state_dir`, whatever
    state a test left (a keepalived that never ran is a no-op)."""
    root = appliances_dir(state_dir)
    if not root.is_dir():
        return
    for entry in root.iterdir():
        if valid_name(entry.name):
            layout = layout_for(state_dir, entry.name)
            netns = read_netns(layout)
            KeepalivedProcess(layout, netns, stop_timeout=2).stop()
            HAProxyProcess(layout, netns).stop()


@pytest.fixture
def state_dir(short_tmp: Path) -> Iterator[Path]:
    path = short_tmp / "state"
    yield path
    stop_all(path)


@pytest.fixture
def pki(short_tmp: Path) -> PkiPaths:
    return ensure_pki(short_tmp / "pki")


@pytest.fixture
def make_backend() -> Iterator[Callable[[str], Backend]]:
    started: list[Backend] = []

    def make(name: str) -> Backend:
        backend = Backend(name)
        started.append(backend)
        return backend

    yield make
    for backend in started:
        backend.close()


@pytest.fixture
def backends(make_backend: Callable[[str], Backend]) -> tuple[Backend, Backend]:
    return make_backend("b1"), make_backend("b2")


@pytest.fixture
def threaded_agent(state_dir: Path, pki: PkiPaths) -> Iterator[ThreadedAgent]:
    agent = ThreadedAgent(state_dir, pki)
    yield agent
    agent.stop()


@pytest.fixture
def agent(threaded_agent: ThreadedAgent) -> AgentClient:
    return threaded_agent.client
