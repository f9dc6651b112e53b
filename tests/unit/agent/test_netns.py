"""Address parsing and the TCP listener check (host namespace; the netns path is integration)."""

import socket
from collections.abc import Iterator

import pytest

from steelyard.agent.netns import NetnsError, exec_prefix, parse_address, unreachable


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("198.18.0.10:80", ("198.18.0.10", 80)),
        ("[fd00::1]:443", ("fd00::1", 443)),
        ("127.0.0.1:65535", ("127.0.0.1", 65535)),
    ],
)
def test_parse_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize(
    "text", ["198.18.0.10", "198.18.0.10:0", "198.18.0.10:70000", "host:80", ":80", "fd00::1:80"]
)
def test_parse_address_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_address(text)


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_unreachable_reports_only_closed_ports(listener: int) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))  # bound, never listening: refuses connections
        closed = probe.getsockname()[1]
        failures = unreachable(
            [("127.0.0.1", listener), ("127.0.0.1", closed)], None, retry_for=0.0
        )
    assert len(failures) == 1
    assert failures[0].startswith(f"127.0.0.1:{closed} (")


def test_nothing_to_check() -> None:
    assert unreachable([], "tb-does-not-matter") == []


def test_exec_prefix() -> None:
    assert exec_prefix(None) == []
    assert exec_prefix("tb-1")[-3:] == ["netns", "exec", "tb-1"]
    with pytest.raises(NetnsError):
        exec_prefix("../x")
