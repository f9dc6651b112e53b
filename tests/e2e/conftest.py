import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import ServerHandle, running_server


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
