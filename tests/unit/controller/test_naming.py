import pytest

from steelyard.controller.naming import appliance_name


def test_name_is_deterministic_and_short() -> None:
    lb = "3F2A9C1E-0B7D-4C11-9A2B-001122334455"
    assert appliance_name(lb, 0) == "3f2a9c1e0b7d-0"
    assert appliance_name(lb, 0) == appliance_name(lb.lower(), 0)
    assert appliance_name(lb, 1) == "3f2a9c1e0b7d-1"


@pytest.mark.parametrize("bad", ["", "zz", "../etc/passwd", "1234\n5678"])
def test_non_uuid_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        appliance_name(bad, 0)
