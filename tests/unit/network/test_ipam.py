import pytest

from steelyard.network import ipam
from steelyard.network.ipam import AddressInUse, AddressOutOfRange, SubnetExhausted


def test_allocate_returns_first_host_after_gateway() -> None:
    assert ipam.allocate("198.18.96.0/24", gateway="198.18.96.1") == "198.18.96.2"


def test_allocate_skips_used_addresses() -> None:
    used = ["198.18.96.2", "198.18.96.3", "198.18.96.5"]
    assert ipam.allocate("198.18.96.0/24", gateway="198.18.96.1", used=used) == "198.18.96.4"


def test_allocate_without_gateway_starts_at_first_host() -> None:
    assert ipam.allocate("198.18.96.0/24", gateway=None) == "198.18.96.1"


def test_allocate_ignores_used_addresses_of_other_subnets() -> None:
    used = ["198.18.97.2", "fd00::2"]
    assert ipam.allocate("198.18.96.0/24", gateway="198.18.96.1", used=used) == "198.18.96.2"


def test_slash_30_has_two_hosts() -> None:
    cidr = "198.18.96.0/30"
    assert ipam.allocate(cidr, gateway="198.18.96.1") == "198.18.96.2"
    with pytest.raises(SubnetExhausted):
        ipam.allocate(cidr, gateway="198.18.96.1", used=["198.18.96.2"])


def test_slash_31_uses_both_addresses() -> None:  # RFC 3021: no network or broadcast
    cidr = "198.18.96.0/31"
    assert ipam.default_gateway(cidr) == "198.18.96.0"
    assert ipam.allocate(cidr, gateway="198.18.96.0") == "198.18.96.1"
    with pytest.raises(SubnetExhausted):
        ipam.allocate(cidr, gateway="198.18.96.0", used=["198.18.96.1"])


def test_slash_32_holds_one_address() -> None:
    assert ipam.allocate("198.18.96.7/32", gateway=None) == "198.18.96.7"
    with pytest.raises(SubnetExhausted):
        ipam.allocate("198.18.96.7/32", gateway="198.18.96.7")


def test_exhausted_slash_29() -> None:
    used = [f"198.18.96.{n}" for n in range(2, 7)]
    with pytest.raises(SubnetExhausted, match=r"198\.18\.96\.0/29"):
        ipam.allocate("198.18.96.0/29", gateway="198.18.96.1", used=used)


def test_ipv6_slash_64_allocates_past_used_addresses() -> None:
    used = [f"fd00:7c:96::{n:x}" for n in range(2, 1002)]
    assert ipam.allocate("fd00:7c:96::/64", gateway="fd00:7c:96::1", used=used) == "fd00:7c:96::3ea"


def test_ipv6_skips_subnet_router_anycast() -> None:
    assert ipam.default_gateway("fd00:7c:96::/64") == "fd00:7c:96::1"
    assert ipam.allocate("fd00:7c:96::/64", gateway=None) == "fd00:7c:96::1"


def test_ipv6_last_address_is_a_host() -> None:  # no broadcast in IPv6
    cidr = "fd00:7c:96::/126"  # ::0 anycast, ::1-::3 hosts
    assert ipam.allocate(cidr, gateway="fd00:7c:96::1", used=["fd00:7c:96::2"]) == "fd00:7c:96::3"


def test_ipv6_slash_127_uses_both_addresses() -> None:  # RFC 6164
    assert ipam.allocate("fd00:7c:96::/127", gateway="fd00:7c:96::1") == "fd00:7c:96::"


def test_ipv6_low_addresses_stay_ipv6() -> None:
    # ip_address(int) would turn a small integer into an IPv4 address.
    assert ipam.allocate("::/120", gateway=None) == "::1"


def test_default_gateway_is_first_host() -> None:
    assert ipam.default_gateway("198.18.96.0/24") == "198.18.96.1"
    assert ipam.default_gateway("198.18.96.7/32") == "198.18.96.7"


def test_subnet_with_host_bits_is_rejected() -> None:
    with pytest.raises(ValueError):
        ipam.allocate("198.18.96.5/24", gateway=None)


def test_gateway_outside_subnet_is_rejected() -> None:
    with pytest.raises(AddressOutOfRange, match="gateway"):
        ipam.allocate("198.18.96.0/24", gateway="198.18.97.1")


@pytest.mark.parametrize(
    ("address", "error", "message"),
    [
        ("198.18.97.10", AddressOutOfRange, "not in subnet"),
        ("fd00::10", AddressOutOfRange, "not in subnet"),
        ("not-an-ip", AddressOutOfRange, "not an IP address"),
        ("198.18.96.0", AddressOutOfRange, "network address"),
        ("198.18.96.255", AddressOutOfRange, "broadcast address"),
        ("198.18.96.1", AddressInUse, "gateway"),
        ("198.18.96.20", AddressInUse, "already in use"),
    ],
)
def test_validate_rejects(address: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        ipam.validate("198.18.96.0/24", address, gateway="198.18.96.1", used=["198.18.96.20"])


def test_validate_accepts_free_host_in_canonical_form() -> None:
    assert ipam.validate("198.18.96.0/24", "198.18.96.21", gateway="198.18.96.1") == "198.18.96.21"
    assert ipam.validate("fd00:7c:96::/64", "FD00:7C:96:0::0A", gateway=None) == "fd00:7c:96::a"


def test_validate_ipv6_anycast_is_not_a_host() -> None:
    with pytest.raises(AddressOutOfRange, match="network address"):
        ipam.validate("fd00:7c:96::/64", "fd00:7c:96::", gateway=None)


def test_errors_are_value_errors() -> None:
    for error in (AddressInUse, AddressOutOfRange, SubnetExhausted):
        assert issubclass(error, ipam.IpamError)
        assert issubclass(error, ValueError)
