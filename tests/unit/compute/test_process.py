import pytest

from steelyard.compute.base import ApplianceSlot, ComputeDriver, PlacedAppliance, VipPlacement
from steelyard.compute.process import ProcessDriver


def slot(address: str, bridge: str | None = None, name: str = "lb-1-a") -> ApplianceSlot:
    return ApplianceSlot(name, VipPlacement(address=address, prefixlen=8, bridge=bridge))


def test_is_a_compute_driver() -> None:
    driver: ComputeDriver = ProcessDriver()
    assert driver.name == "process"


@pytest.mark.parametrize("address", ["127.0.0.1", "127.226.0.10", "127.255.255.254"])
def test_ensure_accepts_loopback_vips(address: str) -> None:
    assert ProcessDriver().ensure(slot(address)) == PlacedAppliance(name="lb-1-a", netns=None)


@pytest.mark.parametrize("address", ["198.18.96.10", "128.0.0.1", "::1", "10.0.0.1", "nope"])
def test_ensure_rejects_other_vips(address: str) -> None:
    with pytest.raises(ValueError, match="lb-1-a"):
        ProcessDriver().ensure(slot(address))


def test_ensure_rejects_a_bridge() -> None:
    with pytest.raises(ValueError, match="no bridges"):
        ProcessDriver().ensure(slot("127.0.0.5", bridge="sybr0"))


def test_list_names_is_what_this_instance_was_told() -> None:
    driver = ProcessDriver()
    driver.ensure(slot("127.0.0.5", name="b"))
    driver.ensure(slot("127.0.0.6", name="a"))
    driver.ensure(slot("127.0.0.6", name="a"))
    assert driver.list_names() == ["a", "b"]
    driver.delete("a")
    driver.delete("a")  # idempotent
    driver.delete("never-made")
    assert driver.list_names() == ["b"]
    assert ProcessDriver().list_names() == []  # nothing to discover on the host
