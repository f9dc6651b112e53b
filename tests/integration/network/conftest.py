"""Fixtures for the network integration tests: an `EcmpLab` per test, removed afterwards."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from steelyard.network.ecmp_plan import Resilient
from tests.integration.network.lab import EcmpLab


@pytest.fixture(autouse=True)
def root_or_skip(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("root") and os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, bridges)")


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator[Callable[..., EcmpLab]]:
    """Builds EcmpLabs (family 4 or 6, a Resilient); each is purged at the end."""
    labs: list[EcmpLab] = []

    def make(family: int = 4, resilient: Resilient = Resilient()) -> EcmpLab:
        lab = EcmpLab(tmp_path, family, resilient)
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        lab.close()


@pytest.fixture
def lab(make_lab: Callable[..., EcmpLab]) -> EcmpLab:
    return make_lab()
