"""allowed_cidrs in the frontend: checked first, on the peer's address, and nothing but plain
networks of the VIP's IP version is ever written (the network checks are protection's)."""

from dataclasses import replace
from typing import Any

import pytest

from steelyard.model.spec import LoadBalancerSpec, ProtectionSpec
from steelyard.render.errors import RenderError
from steelyard.render.haproxy import render_haproxy
from tests.unit.render.fixtures import full_settings, full_spec
from tests.unit.render.test_protection_hostile import FULL, HOSTILE_CIDRS

VALID = ("198.51.100.0/24", "203.0.113.7/32")


def _spec(cidrs: Any, protection: ProtectionSpec | None = None) -> LoadBalancerSpec:
    spec = full_spec()
    first, *rest = spec.listeners
    changed = replace(first, allowed_cidrs=cidrs, protection=protection or first.protection)
    return replace(spec, listeners=(changed, *rest))


def _frontend(config: str, listener_id: str) -> list[str]:
    section = config.split(f"frontend {listener_id}\n", 1)[1].split("\n\n", 1)[0]
    return [line.strip() for line in section.splitlines()]


def test_the_check_comes_before_every_protection_rule() -> None:
    spec = _spec(VALID, FULL)
    lines = _frontend(render_haproxy(spec, full_settings()), spec.listeners[0].id)

    acl = lines.index("acl sy_allowed_cidrs src 198.51.100.0/24 203.0.113.7/32")
    reject = lines.index("tcp-request connection reject if !sy_allowed_cidrs")
    # FULL has accept_proxy: its rules run at the session layer, after every connection rule.
    rules = [
        i
        for i, line in enumerate(lines)
        if line.startswith(("tcp-request", "http-request")) and "inspect-delay" not in line
    ]
    assert acl < reject == min(rules) and len(rules) > 10


def test_without_networks_nothing_is_added() -> None:
    spec = _spec(())
    assert "sy_allowed_cidrs" not in render_haproxy(spec, full_settings())


@pytest.mark.parametrize("value", HOSTILE_CIDRS, ids=range(len(HOSTILE_CIDRS)))
def test_hostile_network_is_refused(value: Any) -> None:
    for items in ((value,), (*VALID, value), (value, *VALID)):
        with pytest.raises(RenderError, match=r"listener\.allowed_cidrs"):
            render_haproxy(_spec(items), full_settings())


@pytest.mark.parametrize("value", ["192.0.2.0/24", b"192.0.2.0/24", {"192.0.2.0/24": 1}, 7, None])
def test_it_must_be_a_sequence(value: Any) -> None:
    with pytest.raises(RenderError, match=r"listener\.allowed_cidrs"):
        render_haproxy(_spec(value), full_settings())


def test_the_other_ip_version_and_too_many_networks_are_refused() -> None:
    with pytest.raises(RenderError, match="not of the VIP's IP version"):
        render_haproxy(_spec(("fd00::/8",)), full_settings())
    many = tuple(f"10.{i // 256}.{i % 256}.0/24" for i in range(1001))
    with pytest.raises(RenderError, match="more than 1000"):
        render_haproxy(_spec(many), full_settings())
    render_haproxy(_spec(many[:1000]), full_settings())
