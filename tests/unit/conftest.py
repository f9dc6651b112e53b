"""Fixtures shared by unit tests of several folders."""

import socket
from collections.abc import Iterator

import pytest


@pytest.fixture
def udp_receiver() -> Iterator[socket.socket]:
    """A UDP socket on loopback (a syslog target), reads bounded by a 5 s timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        yield sock
