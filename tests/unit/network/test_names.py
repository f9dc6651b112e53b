import itertools

import pytest

from steelyard.network.names import (
    IFNAMSIZ,
    NameScheme,
    validate_appliance_name,
    validate_link_name,
    validate_prefix,
)

# Prefixes chosen to trip a careless scheme: each begins another, and some continue with the
# kind markers ("v", "br") or hex digits.
TRICKY_PREFIXES = ["t", "tc", "tcv", "tcb", "tcbr", "tcv1", "tcva", "tcbb", "tca", "tc0", "tcp"]


@pytest.mark.parametrize("prefix", ["s", "sy", "tc", "ab12", "x9"])
def test_valid_prefixes(prefix: str) -> None:
    assert validate_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["", "toolong", "Tc", "1tc", "t-c", "t_c", "tc ", "tç"])
def test_invalid_prefixes(prefix: str) -> None:
    with pytest.raises(ValueError, match="resource prefix"):
        NameScheme(prefix)


@pytest.mark.parametrize("prefix", ["s", "sy", "tcp", "abcd"])
def test_link_names_are_exactly_the_linux_maximum(prefix: str) -> None:
    scheme = NameScheme(prefix)
    for name in ["a", "lb-" + "f" * 36 + "-0", "x" * 200]:
        assert len(scheme.veth(name)) == IFNAMSIZ == 15
    assert len(scheme.bridge("a-network-id")) == 15


def test_names_are_deterministic_and_readable() -> None:
    scheme = NameScheme("sy")
    assert scheme.netns("lb-1-a") == "sy-lb-1-a"
    assert scheme.veth("lb-1-a") == NameScheme("sy").veth("lb-1-a")
    assert scheme.veth("lb-1-a").startswith("syv")
    assert scheme.bridge("net-1").startswith("sybr")
    assert scheme.veth("lb-1-a") != scheme.veth("lb-1-b")


def test_default_prefix_is_sy() -> None:
    assert NameScheme().netns("a") == "sy-a"


def test_veth_depends_on_prefix() -> None:
    # The same appliance name under two prefixes must not share a link name.
    assert NameScheme("tc").veth("a")[3:] != NameScheme("tcp").veth("a")[4:]


def test_appliance_of_round_trips() -> None:
    scheme = NameScheme("tc")
    assert scheme.appliance_of(scheme.netns("lb-9.b_0")) == "lb-9.b_0"
    assert scheme.appliance_of("tcp-lb-9") is None
    assert scheme.appliance_of("tc-") is None
    assert scheme.appliance_of("tc-/etc") is None
    assert scheme.appliance_of("tclb") is None


@pytest.mark.parametrize("name", ["", "-a", ".a", "..", "a/b", "a b", "x" * 201, "ä"])
def test_invalid_appliance_names(name: str) -> None:
    with pytest.raises(ValueError, match="appliance name"):
        validate_appliance_name(name)


@pytest.mark.parametrize("name", ["", "a" * 16, "a/b", "a b", ".a", "-a", "a:b"])
def test_invalid_link_names(name: str) -> None:
    with pytest.raises(ValueError, match="link name"):
        validate_link_name(name)


def test_scheme_recognises_its_own_names() -> None:
    scheme = NameScheme("tc")
    assert scheme.owns_netns(scheme.netns("a1"))
    assert scheme.owns_veth(scheme.veth("a1"))
    assert scheme.owns_bridge(scheme.bridge("n1"))
    assert scheme.owns_link(scheme.veth("a1")) and scheme.owns_link(scheme.bridge("n1"))
    assert not scheme.owns_veth(scheme.bridge("n1"))
    assert not scheme.owns_bridge(scheme.veth("a1"))


@pytest.mark.parametrize("name", ["eth0", "lo", "tcbrmanual", "tcv", "tcvXXXXXXXXXXXX", "tc-a"])
def test_scheme_ignores_other_links(name: str) -> None:
    assert not NameScheme("tc").owns_link(name)


@pytest.mark.parametrize(("mine", "other"), list(itertools.permutations(TRICKY_PREFIXES, 2)))
def test_no_prefix_claims_another_prefixs_names(mine: str, other: str) -> None:
    me, them = NameScheme(mine), NameScheme(other)
    for i in range(300):
        assert not me.owns_link(them.veth(f"app-{i}"))
        assert not me.owns_link(them.bridge(f"net-{i}"))
        assert not me.owns_netns(them.netns(f"app-{i}"))


def test_no_veth_collisions_in_100k_appliances() -> None:
    scheme = NameScheme("abcd")  # the longest prefix leaves the fewest hash bits (40)
    names = {scheme.veth(f"lb-{i:08x}-{slot}") for i in range(50_000) for slot in "ab"}
    assert len(names) == 100_000


def test_no_bridge_collisions_in_100k_networks() -> None:
    scheme = NameScheme("abcd")  # 36 bits of hash
    assert len({scheme.bridge(f"net-{i}") for i in range(100_000)}) == 100_000


def test_empty_network_id_is_rejected() -> None:
    with pytest.raises(ValueError):
        NameScheme("tc").bridge("")


def test_router_names() -> None:
    scheme = NameScheme("tc")
    ns = scheme.router("net-1")
    assert ns == scheme.bridge("net-1") + "-router"
    assert scheme.owns_router(ns)
    assert scheme.appliance_of(ns) is None  # never listed or deleted as an appliance
    assert scheme.owns_veth(scheme.router_veth("net-1"))
    assert scheme.router_veth("net-1") != scheme.router_veth("net-2")
    assert not scheme.owns_router(scheme.bridge("net-1"))
    assert not scheme.owns_router("tc-router")


@pytest.mark.parametrize("mine, other", list(itertools.permutations(TRICKY_PREFIXES, 2)))
def test_routers_of_one_prefix_are_never_anothers(mine: str, other: str) -> None:
    ns = NameScheme(other).router("net-1")
    assert not NameScheme(mine).owns_router(ns)
    assert NameScheme(mine).appliance_of(ns) is None
