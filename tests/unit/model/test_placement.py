"""Which hosts may take a new appliance (pure), and `serve --host` declarations."""

import pytest

from steelyard.model.placement import HostSpace, eligible_hosts
from steelyard.model.repair import HostDeclaration, parse_host

HOSTS = [
    HostSpace("a", None, True, "rack1"),
    HostSpace("b", 2, True, "rack1"),
    HostSpace("c", None, False, "rack2"),  # draining
    HostSpace("d", 1, True, "rack2"),
]


def test_draining_and_full_hosts_take_nothing() -> None:
    assert eligible_hosts(HOSTS, {}) == ["a", "b", "d"]
    assert eligible_hosts(HOSTS, {"b": 2, "d": 1}) == ["a"]
    assert eligible_hosts(HOSTS, {"a": 1000}) == ["a", "b", "d"]  # no limit


def test_a_zones_host_group_limits_the_hosts() -> None:
    assert eligible_hosts(HOSTS, {}, host_group="rack1") == ["a", "b"]
    assert eligible_hosts(HOSTS, {"d": 1}, host_group="rack2") == []
    assert eligible_hosts(HOSTS, {}, host_group="nowhere") == []


def test_a_migration_target_binds_only_while_it_can_take_appliances() -> None:
    assert eligible_hosts(HOSTS, {}, preferred="b") == ["b"]
    assert eligible_hosts(HOSTS, {"b": 2}, preferred="b") == ["a", "d"]  # full: elsewhere
    assert eligible_hosts(HOSTS, {}, preferred="c") == ["a", "b", "d"]  # draining
    assert eligible_hosts(HOSTS, {}, host_group="rack2", preferred="a") == ["d"]


@pytest.mark.parametrize(
    ("text", "declared"),
    [
        ("a", HostDeclaration("a")),
        ("a:40", HostDeclaration("a", 40)),
        ("a@rack1", HostDeclaration("a", None, "rack1")),
        ("node-1.dc:7@r_2", HostDeclaration("node-1.dc", 7, "r_2")),
    ],
)
def test_host_declarations(text: str, declared: HostDeclaration) -> None:
    assert parse_host(text) == declared


@pytest.mark.parametrize(
    "text", ["", ":4", "a:", "a:0", "a:-1", "a:1e3", "a:²", "a:999999", "-a", "a b", "a\n",
             "a@-x", "x" * 64, "a:4@r\n"],
)  # fmt: skip
def test_bad_host_declarations_say_why(text: str) -> None:
    with pytest.raises(ValueError, match=r"^(host|capacity)"):
        parse_host(text)
