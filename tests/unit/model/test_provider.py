"""What each provider accepts as flavor and zone data, and the shape a flavor gives."""

import pytest

from steelyard.model.enums import Topology
from steelyard.model.faults import BadRequest
from steelyard.model.provider import (
    ApplianceFlavor,
    parse_flavor_data,
    parse_zone_data,
    provider,
    shape,
)


@pytest.mark.parametrize(
    ("data", "default", "expected"),
    [
        ("{}", Topology.SINGLE, (Topology.SINGLE, 1, None)),
        ("{}", Topology.ACTIVE_STANDBY, (Topology.ACTIVE_STANDBY, 2, None)),
        ("{}", Topology.ACTIVE_ACTIVE, (Topology.ACTIVE_ACTIVE, 2, None)),
        (
            '{"loadbalancer_topology": "SINGLE"}',
            Topology.ACTIVE_STANDBY,
            (Topology.SINGLE, 1, None),
        ),
        (
            '{"loadbalancer_topology": "ACTIVE_ACTIVE", "appliance_count": 8}',
            Topology.SINGLE,
            (Topology.ACTIVE_ACTIVE, 8, None),
        ),
        (
            '{"haproxy_threads": 64, "compute_flavor": "m1.small"}',
            Topology.SINGLE,
            (Topology.SINGLE, 1, 64),
        ),
    ],
)
def test_shapes(data: str, default: Topology, expected: tuple[Topology, int, int | None]) -> None:
    chosen = shape(parse_flavor_data("appliance", data), default)

    assert (chosen.topology, chosen.appliance_count, chosen.haproxy_threads) == expected


def test_noop_interprets_nothing() -> None:
    settings = parse_flavor_data("noop", '{"loadbalancer_topology": "ACTIVE_ACTIVE", "x": [1]}')

    assert settings == ApplianceFlavor()
    assert parse_zone_data("noop", '{"host_group": "a b"}').host_group is None
    assert provider("noop").flavor_capabilities == []


def test_capabilities_name_every_key_accepted() -> None:
    names = [c.name for c in provider("appliance").flavor_capabilities]

    assert names == list(ApplianceFlavor.model_fields)
    for name in names:
        with pytest.raises(BadRequest):  # none accepts a list
            parse_flavor_data("appliance", f'{{"{name}": []}}')


@pytest.mark.parametrize("name", ["", "APPLIANCE", "amphora", "noop ", "x" * 1000])
def test_unknown_providers(name: str) -> None:
    with pytest.raises(BadRequest) as raised:
        provider(name)

    assert raised.value.faultstring.endswith("is not enabled.")
    assert len(raised.value.faultstring) < 120
