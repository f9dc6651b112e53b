"""`NetnsDriver.desired`: the three ways a placement holds its VIP (pure, no root needed)."""

import ipaddress

import pytest

from steelyard.compute.base import ApplianceSlot, VipPlacement
from steelyard.compute.netns import NetnsDriver
from steelyard.compute.netns_plan import DEFAULT_SYSCTLS, LOOPBACK_VIP_SYSCTLS

BRIDGE = "tcbr0123456789a"
DRIVER = NetnsDriver("tc")


def slot(address: str, plen: int = 24, *loopback: str) -> ApplianceSlot:
    return ApplianceSlot("a1", VipPlacement(address, plen, BRIDGE, loopback_vips=loopback))


def test_single_and_active_standby_hold_the_address_on_eth0_only() -> None:
    want = DRIVER.desired(slot("198.18.97.10"))
    assert want.vip == ipaddress.ip_interface("198.18.97.10/24")
    assert want.loopback == ()
    assert want.sysctls == DEFAULT_SYSCTLS


def test_active_active_holds_vips_on_lo_and_keeps_quiet_about_them() -> None:
    want = DRIVER.desired(slot("198.18.97.11", 24, "198.18.97.100", "198.18.97.101"))
    assert want.vip == ipaddress.ip_interface("198.18.97.11/24")
    assert want.loopback == (
        ipaddress.ip_interface("198.18.97.100/32"),
        ipaddress.ip_interface("198.18.97.101/32"),
    )
    assert want.sysctls == {**DEFAULT_SYSCTLS, **LOOPBACK_VIP_SYSCTLS}
    assert LOOPBACK_VIP_SYSCTLS["net.ipv4.conf.eth0.arp_ignore"] == "1"
    assert LOOPBACK_VIP_SYSCTLS["net.ipv4.conf.all.arp_announce"] == "2"


def test_ipv6_active_active_needs_no_arp_sysctls() -> None:
    want = DRIVER.desired(slot("fd00:7c:97::11", 64, "fd00:7c:97::100"))
    assert want.loopback == (ipaddress.ip_interface("fd00:7c:97::100/128"),)
    assert want.sysctls == DEFAULT_SYSCTLS


def test_custom_sysctls_still_get_the_arp_ones() -> None:
    driver = NetnsDriver("tc", sysctls={"net.core.somaxconn": "1024"})
    want = driver.desired(slot("198.18.97.11", 24, "198.18.97.100"))
    assert want.sysctls == {"net.core.somaxconn": "1024", **LOOPBACK_VIP_SYSCTLS}


@pytest.mark.parametrize(
    "loopback",
    ["fd00:7c:97::100", "198.18.97.11", "198.18.97.100/32", "x", "198.18.97.100\n"],
)
def test_bad_loopback_vips_are_refused(loopback: str) -> None:
    with pytest.raises(ValueError):
        DRIVER.desired(slot("198.18.97.11", 24, loopback))
