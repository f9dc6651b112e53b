"""Hostile values in any spec or settings field never change the structure of the config.

Each case replaces one field of a load balancer that uses every rendered feature. Rendering
must either refuse with RenderError, or produce the same sections with the same number of lines,
each made only of characters HAProxy's parser reads literally.
"""

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from steelyard.model.spec import LoadBalancerSpec, RenderSettings
from steelyard.render.errors import RenderError
from steelyard.render.haproxy import render_haproxy
from tests.unit.render.fixtures import full_settings, full_spec, structure

Inputs = tuple[LoadBalancerSpec, RenderSettings]
Mutator = Callable[[Inputs, Any], Inputs]

LITERAL_LINE = re.compile(r"[ !%&()*+,\-./0-9:;<=>?@A-Z\[\]^_`a-z|~]*")

# Characters and shapes that end a line, start a comment or quote, expand, or smuggle tokens.
HOSTILE_STRINGS: list[Any] = [
    "",
    " ",
    "\n",
    "\r",
    "\x00",
    "\t",
    "#",
    "'",
    '"',
    "\\",
    "$",
    "${HOME}",
    "{",
    "%",
    "x y",
    "x\nfrontend evil",
    "x\r\nbackend evil",
    "\nglobal\n    stats socket /tmp/evil level admin",
    "A" * 5000,
    "/" + "a" * 5000,
    "é",
    "\u2028",
    "\u0663\u0660\u0660",  # Arabic-Indic 300
    "\uff12\uff10\uff10",  # full-width 200
    "200\n",
    "/ok#frag",
    "/a b",
    "fe80::1%eth0\nx",
    "0.0.0.0",
    "::",
    "224.0.0.1",
    12,
    b"bytes",
    ["list"],
]
# Appended to the field's valid value: valid prefix, hostile tail.
HOSTILE_SUFFIXES = ["\n", "\nfrontend evil", " backup", "#x", "\x00", "'", "\u2028", " ", "\r", ";"]
HOSTILE_NUMBERS: list[Any] = [
    "80",
    "80\nfrontend evil",
    80.0,
    True,
    -2,
    2**40,
    float("nan"),
    None,
]
HOSTILE_BOOLS: list[Any] = ["false", "true", 0, 1, None, "True\n"]


def _at(name: str) -> Mutator:
    return lambda inputs, value: (replace(inputs[0], **{name: value}), inputs[1])


def _listener(index: int, name: str) -> Mutator:
    def mutate(inputs: Inputs, value: Any) -> Inputs:
        spec, settings = inputs
        listeners = list(spec.listeners)
        listeners[index] = replace(listeners[index], **{name: value})
        return replace(spec, listeners=tuple(listeners)), settings

    return mutate


def _pool_change(index: int, change: Callable[[Any, Any], Any]) -> Mutator:
    def mutate(inputs: Inputs, value: Any) -> Inputs:
        spec, settings = inputs
        pools = list(spec.pools)
        pools[index] = change(pools[index], value)
        return replace(spec, pools=tuple(pools)), settings

    return mutate


def _pool(index: int, name: str) -> Mutator:
    return _pool_change(index, lambda pool, value: replace(pool, **{name: value}))


def _member(index: int, member: int, name: str) -> Mutator:
    def change(pool: Any, value: Any) -> Any:
        members = list(pool.members)
        members[member] = replace(members[member], **{name: value})
        return replace(pool, members=tuple(members))

    return _pool_change(index, change)


def _monitor(index: int, name: str) -> Mutator:
    return _pool_change(
        index,
        lambda pool, value: replace(
            pool, healthmonitor=replace(pool.healthmonitor, **{name: value})
        ),
    )


def _persistence(index: int, name: str) -> Mutator:
    return _pool_change(
        index,
        lambda pool, value: replace(
            pool, session_persistence=replace(pool.session_persistence, **{name: value})
        ),
    )


def _header(index: int, part: int) -> Mutator:
    def mutate(inputs: Inputs, value: Any) -> Inputs:
        spec = inputs[0]
        pair = list(spec.listeners[index].insert_headers[0])
        pair[part] = value
        headers = (tuple(pair), *spec.listeners[index].insert_headers[1:])
        return _listener(index, "insert_headers")(inputs, headers)

    return mutate


def _path(name: str) -> Mutator:
    return lambda inputs, value: (
        inputs[0],
        replace(inputs[1], paths=replace(inputs[1].paths, **{name: value})),
    )


def _setting(name: str) -> Mutator:
    return lambda inputs, value: (inputs[0], replace(inputs[1], **{name: value}))


STRING_FIELDS: dict[str, tuple[Mutator, str]] = {
    "loadbalancer.id": (_at("id"), "0b000000-0000-4000-8000-000000000000"),
    "loadbalancer.vip_address": (_at("vip_address"), "198.18.0.10"),
    "listener.id": (_listener(0, "id"), "a0000000-0000-4000-8000-000000000001"),
    "listener.default_pool_id": (
        _listener(0, "default_pool_id"),
        "b0000000-0000-4000-8000-000000000001",
    ),
    "listener.insert_headers.name": (_header(0, 0), "X-Forwarded-For"),
    "listener.insert_headers.value": (_header(0, 1), "true"),
    "pool.id": (_pool(0, "id"), "b0000000-0000-4000-8000-000000000001"),
    "member.id": (_member(0, 0, "id"), "c0000000-0000-4000-8000-000000000001"),
    "member.address": (_member(0, 0, "address"), "198.18.1.1"),
    "member.monitor_address": (_member(0, 0, "monitor_address"), "198.18.2.1"),
    "healthmonitor.id": (_monitor(0, "id"), "d0000000-0000-4000-8000-000000000001"),
    "healthmonitor.url_path": (_monitor(0, "url_path"), "/health?deep=1"),
    "healthmonitor.expected_codes": (_monitor(0, "expected_codes"), "200-204"),
    "healthmonitor.domain_name": (_monitor(0, "domain_name"), "app.example.com"),
    "session_persistence.cookie_name": (_persistence(0, "cookie_name"), "JSESSIONID"),
    "session_persistence.persistence_granularity": (
        _persistence(1, "persistence_granularity"),
        "255.255.255.0",
    ),
    "paths.stats_socket": (_path("stats_socket"), "/run/sy/a/stats.sock"),
    "paths.server_state_file": (_path("server_state_file"), "/run/sy/a/server-state"),
    "paths.log_socket": (_path("log_socket"), "/run/sy/a/log.sock"),
    # Enums given as plain strings, as a loose caller might.
    "listener.protocol": (_listener(0, "protocol"), "HTTP"),
    "pool.protocol": (_pool(0, "protocol"), "HTTP"),
    "pool.lb_algorithm": (_pool(0, "lb_algorithm"), "ROUND_ROBIN"),
    "healthmonitor.type": (_monitor(0, "type"), "HTTPS"),
    "healthmonitor.http_method": (_monitor(0, "http_method"), "GET"),
    "session_persistence.type": (_persistence(0, "type"), "APP_COOKIE"),
}
NUMBER_FIELDS: dict[str, Mutator] = {
    "listener.protocol_port": _listener(0, "protocol_port"),
    "listener.connection_limit": _listener(0, "connection_limit"),
    "listener.timeout_client_data": _listener(0, "timeout_client_data"),
    "listener.timeout_member_connect": _listener(0, "timeout_member_connect"),
    "listener.timeout_member_data": _listener(0, "timeout_member_data"),
    "listener.timeout_tcp_inspect": _listener(0, "timeout_tcp_inspect"),
    "member.protocol_port": _member(0, 0, "protocol_port"),
    "member.weight": _member(0, 0, "weight"),
    "member.monitor_port": _member(0, 0, "monitor_port"),
    "healthmonitor.delay": _monitor(0, "delay"),
    "healthmonitor.timeout": _monitor(0, "timeout"),
    "healthmonitor.max_retries": _monitor(0, "max_retries"),
    "healthmonitor.max_retries_down": _monitor(0, "max_retries_down"),
    "healthmonitor.http_version": _monitor(0, "http_version"),
    "session_persistence.persistence_timeout": _persistence(1, "persistence_timeout"),
    "settings.max_connections": _setting("max_connections"),
    "settings.default_listener_maxconn": _setting("default_listener_maxconn"),
    "settings.nbthread": _setting("nbthread"),
    "settings.hard_stop_after_s": _setting("hard_stop_after_s"),
}
BOOL_FIELDS: dict[str, Mutator] = {
    "loadbalancer.admin_state_up": _at("admin_state_up"),
    "listener.admin_state_up": _listener(0, "admin_state_up"),
    "pool.admin_state_up": _pool(0, "admin_state_up"),
    "member.admin_state_up": _member(0, 0, "admin_state_up"),
    "member.backup": _member(0, 1, "backup"),
    "healthmonitor.admin_state_up": _monitor(0, "admin_state_up"),
}


def _cases() -> list[Any]:
    cases = []
    for field, (mutate, valid) in STRING_FIELDS.items():
        values = [*HOSTILE_STRINGS, *(valid + suffix for suffix in HOSTILE_SUFFIXES)]
        values += [" " + valid, valid.upper() + "\n"]
        cases += [pytest.param(mutate, value, id=f"{field}-{i}") for i, value in enumerate(values)]
    for field, mutate in NUMBER_FIELDS.items():
        values = [*HOSTILE_NUMBERS, "x\nfrontend evil"]
        cases += [pytest.param(mutate, value, id=f"{field}-{i}") for i, value in enumerate(values)]
    for field, mutate in BOOL_FIELDS.items():
        values = [*HOSTILE_BOOLS, "x\nfrontend evil"]
        cases += [pytest.param(mutate, value, id=f"{field}-{i}") for i, value in enumerate(values)]
    return cases


BASELINE = render_haproxy(full_spec(), full_settings())


def test_baseline_uses_every_feature() -> None:
    for text in (
        "option forwardfor",
        "stick match req.cook(JSESSIONID)",
        "ipmask(24)",
        "hdr Host app.example.com",
        "addr 198.18.2.1 port 9000",
        "log /run/sy/a/log.sock",
    ):
        assert text in BASELINE


@pytest.mark.parametrize(("mutate", "value"), _cases())
def test_hostile_value_cannot_change_structure(mutate: Mutator, value: Any) -> None:
    spec, settings = mutate((full_spec(), full_settings()), value)
    try:
        config = render_haproxy(spec, settings)
    except RenderError:
        return
    assert structure(config) == structure(BASELINE)
    for line in config.split("\n")[1:]:
        assert LITERAL_LINE.fullmatch(line), line
