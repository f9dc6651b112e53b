"""Hostile values in every protection field are refused, or cannot change the config's shape.

The base case uses every protection feature on the HTTP listener of the full fixture. Network
lists must refuse anything that is not a plain network: it would otherwise be written verbatim
into an `acl` line.
"""

from dataclasses import fields, replace
from typing import Any

import pytest

from steelyard.model.spec import LoadBalancerSpec, ProtectionSpec
from steelyard.render.errors import RenderError
from steelyard.render.haproxy import render_haproxy
from tests.unit.render.fixtures import full_settings, full_spec, structure
from tests.unit.render.test_haproxy_injection import (
    HOSTILE_BOOLS,
    HOSTILE_NUMBERS,
    HOSTILE_STRINGS,
    HOSTILE_SUFFIXES,
    LITERAL_LINE,
)

FULL = ProtectionSpec(
    max_conn_per_source=20,
    conn_rate_per_source=30,
    conn_rate_period_s=10,
    req_rate_per_source=100,
    req_rate_period_s=10,
    action="tarpit",
    retry_after_s=30,
    tarpit_s=5,
    http_request_timeout_ms=5000,
    max_header_bytes=8192,
    max_body_bytes=1_048_576,
    deny_cidrs=("192.0.2.0/24", "2001:db8::/32"),
    allow_cidrs=("198.51.100.0/24",),
    max_connections=500,
    trusted_proxies=("10.0.0.0/8",),
    accept_proxy=True,
    table_size=100_000,
)
LISTS = ("deny_cidrs", "allow_cidrs", "trusted_proxies")
NUMBERS = tuple(
    f.name for f in fields(ProtectionSpec) if f.name not in (*LISTS, "action", "accept_proxy")
)
# Shapes a network list element can take that look close to valid, or smuggle something.
HOSTILE_CIDRS: list[Any] = [
    *HOSTILE_STRINGS,
    *("192.0.2.0/24" + suffix for suffix in HOSTILE_SUFFIXES),
    " 192.0.2.0/24",
    "192.0.2.0/24 198.51.100.0/24",
    "192.0.2.0/24,198.51.100.0/24",
    "192.0.2.0",  # no prefix: not a network as the API defines it
    "192.0.2.1/24",  # host bits
    "192.0.2.0/33",
    "192.0.2.0/-1",
    "fe80::/64%eth0",
    "fe80::%eth0/64",
    "192.0.2.0/24/24",
    "-f /etc/passwd",
    "\u0661\u0669\u0662.0.2.0/24",  # Arabic-Indic digits
    "192.0.2.0/2\u0664",
    "1" * 60 + "/8",
    "::ffff:192.0.2.0/104\n",
    ("192.0.2.0/24",),
    None,
    24,
]


def _spec(protection: ProtectionSpec) -> LoadBalancerSpec:
    spec = full_spec()
    first, *rest = spec.listeners
    return replace(spec, listeners=(replace(first, protection=protection), *rest))


def _with(field: str, value: Any) -> ProtectionSpec:
    changes: dict[str, Any] = {field: value}
    return replace(FULL, **changes)


BASELINE = render_haproxy(_spec(FULL), full_settings())


def test_baseline_uses_every_protection_feature() -> None:
    for text in (
        "bind 198.18.0.10:80 accept-proxy",
        "maxconn 500",
        "timeout http-request 5000ms",
        "timeout tarpit 5s",
        "acl sy_deny src 192.0.2.0/24 2001:db8::/32",
        "acl sy_allow src 198.51.100.0/24",
        "http-request set-src hdr_ip(x-forwarded-for,-1) if sy_proxy",
        "tcp-request session set-var(sess.sy_over) int(1) if sy_max_conn",
        "http-request tarpit deny_status 429 hdr Retry-After 30 if sy_over",
        "if sy_req_rate\n    http-request sc-inc-gpc(3,1)\n"
        "    http-request tarpit deny_status 429 hdr Retry-After 30 if sy_counted",
        "acl sy_header_size req.hdrs,length gt 8192",
        "acl sy_body_size req.hdr_val(content-length) gt 1048576",
        "stick-table type ipv6 size 100000 expire 10s",
    ):
        assert text in BASELINE


def _assert_refused_or_same_shape(protection: ProtectionSpec) -> None:
    try:
        config = render_haproxy(_spec(protection), full_settings())
    except RenderError:
        return
    assert structure(config) == structure(BASELINE)
    for line in config.splitlines():
        assert LITERAL_LINE.fullmatch(line), repr(line)


@pytest.mark.parametrize("field", LISTS)
@pytest.mark.parametrize("value", HOSTILE_CIDRS, ids=range(len(HOSTILE_CIDRS)))
def test_hostile_network_is_refused(field: str, value: Any) -> None:
    valid = getattr(FULL, field)
    for items in ((value,), (*valid, value), (value, *valid)):
        with pytest.raises(RenderError, match=field):
            render_haproxy(_spec(_with(field, items)), full_settings())


@pytest.mark.parametrize("field", LISTS)
@pytest.mark.parametrize("value", ["192.0.2.0/24", b"192.0.2.0/24", {"192.0.2.0/24": 1}, 7])
def test_a_list_field_must_be_a_sequence(field: str, value: Any) -> None:
    with pytest.raises(RenderError, match=field):
        render_haproxy(_spec(_with(field, value)), full_settings())


# Fields whose None means "no limit"; the others must be numbers.
REQUIRED = ("conn_rate_period_s", "req_rate_period_s", "retry_after_s", "tarpit_s", "table_size")


def _number_cases() -> list[Any]:
    cases = []
    for field in NUMBERS:
        values = [*HOSTILE_NUMBERS, 0, "x\nfrontend evil"]
        if field not in REQUIRED:
            values.remove(None)
        cases += [pytest.param(field, value, id=f"{field}-{i}") for i, value in enumerate(values)]
    return cases


@pytest.mark.parametrize(("field", "value"), _number_cases())
def test_hostile_number(field: str, value: Any) -> None:
    _assert_refused_or_same_shape(_with(field, value))


@pytest.mark.parametrize("field", REQUIRED)
def test_required_number_cannot_be_none(field: str) -> None:
    with pytest.raises(RenderError, match=field):
        render_haproxy(_spec(_with(field, None)), full_settings())


@pytest.mark.parametrize("field", NUMBERS)
@pytest.mark.parametrize("value", [True, 1.5, "10", -1, 2**63])
def test_non_integer_or_out_of_range_is_refused(field: str, value: Any) -> None:
    with pytest.raises(RenderError, match=field):
        render_haproxy(_spec(_with(field, value)), full_settings())


@pytest.mark.parametrize(
    "value",
    [*HOSTILE_STRINGS, *("tarpit" + suffix for suffix in HOSTILE_SUFFIXES), "TARPIT", None],
    ids=range(len(HOSTILE_STRINGS) + len(HOSTILE_SUFFIXES) + 2),
)
def test_hostile_action_is_refused(value: Any) -> None:
    with pytest.raises(RenderError, match="action"):
        render_haproxy(_spec(replace(FULL, action=value)), full_settings())


@pytest.mark.parametrize("value", [*HOSTILE_BOOLS, "x\nfrontend evil"])
def test_hostile_accept_proxy_is_refused(value: Any) -> None:
    with pytest.raises(RenderError, match="accept_proxy"):
        render_haproxy(_spec(replace(FULL, accept_proxy=value)), full_settings())
