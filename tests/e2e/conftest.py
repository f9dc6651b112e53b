import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from steelyard.cli.backends import NamedBackend
from tests.e2e.harness import ServerHandle, running_server
from tests.e2e.lbtools import start_backends


@pytest.fixture
def netns_server(tmp_path: Path) -> Iterator[ServerHandle]:
    if os.geteuid() != 0:
        pytest.skip("the netns driver needs root")
    with running_server(tmp_path, "netns") as handle:
        yield handle


@pytest.fixture
def process_server(tmp_path: Path) -> Iterator[ServerHandle]:
    with running_server(tmp_path, "process") as handle:
        yield handle


class Backends:
    """Backends a test starts; all stopped when it ends, also when it fails."""

    def __init__(self) -> None:
        self.running: list[NamedBackend] = []

    def start(self, handle: ServerHandle, count: int = 3) -> list[NamedBackend]:
        started = start_backends(handle, count)
        self.running.extend(started)
        return started

    def add(self, backend: NamedBackend) -> NamedBackend:
        self.running.append(backend.start())
        return backend


@pytest.fixture
def backends() -> Iterator[Backends]:
    tracker = Backends()
    yield tracker
    for backend in tracker.running:
        backend.stop()
