"""The connectivity contract refuses hostile targets: every value reaches a socket or an HTTP
request line inside an appliance, so only unicast IPs, ports, the health monitor's own patterns
and bounded sizes pass."""

from typing import Any

import pytest
from pydantic import ValidationError

from steelyard.model.diagnostics import (
    MAX_TARGETS,
    ConnectivityRequest,
    HealthCheckProbe,
    ProbeTarget,
    worst_case_s,
)

GOOD = {"address": "198.18.0.5", "port": 8080}


@pytest.mark.parametrize(
    "address",
    [
        "198.18.0.5\n", "198.18.0.5 ", "example.com", "198.18.0.5:80", "fe80::1%eth0",
        "0.0.0.0", "::", "224.0.0.1", "ff02::1", "255.255.255.255", "1" * 5000, "",
        "198.18.0.256", 3232235521, ["198.18.0.5"],
    ],
)  # fmt: skip
def test_addresses_must_be_unicast_ips(address: Any) -> None:
    with pytest.raises(ValidationError):
        ProbeTarget.model_validate({**GOOD, "address": address})
    with pytest.raises(ValidationError):
        ProbeTarget.model_validate({**GOOD, "monitor_address": address})


def test_addresses_are_normalised() -> None:
    assert ProbeTarget.model_validate({**GOOD, "address": "FD00:0::5"}).address == "fd00::5"


@pytest.mark.parametrize("port", [0, 65536, -1, "80", 80.5, True, 2**64])
def test_ports_are_bounded_integers(port: Any) -> None:
    with pytest.raises(ValidationError):
        ProbeTarget.model_validate({**GOOD, "port": port})
    with pytest.raises(ValidationError):
        ProbeTarget.model_validate({**GOOD, "monitor_port": port})


@pytest.mark.parametrize(
    "ident", ["../etc/passwd", "a b", "a;b", "a\nb", "-x", "x" * 65, "", "m/1", "<none>"]
)
def test_member_and_pool_ids_are_plain_names(ident: str) -> None:
    with pytest.raises(ValidationError):
        ProbeTarget.model_validate({**GOOD, "member_id": ident})
    with pytest.raises(ValidationError):
        ProbeTarget.model_validate({**GOOD, "pool_id": ident})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url_path", "/a\r\nHost: evil"), ("url_path", "/a b"), ("url_path", "a"),
        ("url_path", "/" + "a" * 3000), ("url_path", "/\x00"), ("url_path", "http://x/"),
        ("expected_codes", "200\n"), ("expected_codes", "abc"), ("expected_codes", "299-200"),
        ("expected_codes", "2000"), ("domain_name", "a b"), ("domain_name", "x\r\nX: y"),
        ("domain_name", "a" * 300), ("http_method", "GET /x HTTP/1.1\r\n"),
        ("http_method", "BREW"), ("http_version", 2.0), ("type", "UDP-CONNECT"),
        ("surprise", 1),
    ],
)  # fmt: skip
def test_checks_take_only_what_a_health_monitor_takes(field: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        HealthCheckProbe.model_validate({field: value})


def test_requests_are_bounded() -> None:
    target = {**GOOD, "check": {"type": "HTTP"}}
    with pytest.raises(ValidationError):
        ConnectivityRequest.model_validate({"targets": [GOOD] * (MAX_TARGETS + 1)})
    for field, value in (("timeout_s", 0), ("timeout_s", 60), ("concurrency", 0),
                         ("concurrency", 10_000), ("timeout_s", "2")):  # fmt: skip
        with pytest.raises(ValidationError):
            ConnectivityRequest.model_validate({field: value})
    # 256 targets with checks, one at a time, 5 s each step: refused before any probe
    with pytest.raises(ValidationError, match="raise concurrency"):
        ConnectivityRequest.model_validate(
            {"targets": [target] * MAX_TARGETS, "concurrency": 1, "timeout_s": 5}
        )
    fine = ConnectivityRequest.model_validate(
        {"targets": [target] * MAX_TARGETS, "concurrency": 32}
    )
    assert worst_case_s(fine) == 8 * 3 * 2.0
    assert worst_case_s(ConnectivityRequest()) == 16 * 1 * 2.0  # the running config: TCP only
