import ipaddress

from steelyard.network.bridge import address_commands


def test_missing_ipv4_address_is_added() -> None:
    want = ipaddress.ip_interface("198.18.96.1/24")
    assert address_commands("br0", want, set()) == ["addr replace 198.18.96.1/24 dev br0"]


def test_present_address_needs_nothing() -> None:
    want = ipaddress.ip_interface("198.18.96.1/24")
    assert address_commands("br0", want, {("198.18.96.1", 24)}) == []


def test_ipv6_address_skips_duplicate_address_detection() -> None:
    want = ipaddress.ip_interface("fd00:7c:96::1/64")
    assert address_commands("br0", want, set()) == ["addr replace fd00:7c:96::1/64 dev br0 nodad"]


def test_same_address_with_other_prefix_length_is_replaced() -> None:
    want = ipaddress.ip_interface("198.18.96.1/24")
    have = {("198.18.96.1", 25), ("198.18.96.9", 24)}
    assert address_commands("br0", want, have) == [
        "addr del 198.18.96.1/25 dev br0",
        "addr replace 198.18.96.1/24 dev br0",
    ]


def test_other_addresses_are_kept() -> None:  # dual stack, or a second subnet
    want = ipaddress.ip_interface("198.18.96.1/24")
    have = {("198.18.96.1", 24), ("fd00:7c:96::1", 64)}
    assert address_commands("br0", want, have) == []
