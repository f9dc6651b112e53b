"""Webhook bodies: hostile URLs and filters are refused; filters match events as documented;
the server's allow list."""

import pytest
from pydantic import ValidationError

from steelyard.model.webhook import (
    EventFilters,
    WebhookCreate,
    destination_refused,
    matches,
    parse_networks,
)

SECRET = "s3cret-s3cret-s3cret"
EVENT = {
    "type": "member.operating_status",
    "severity": "warning",
    "loadbalancer_id": "lb-1",
    "project_id": "p1",
}


def create(**fields: object) -> WebhookCreate:
    return WebhookCreate.model_validate(
        {"url": "http://127.0.0.1:8080/hook", "secret": SECRET, **fields}
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "https://alerts.example.com/steelyard?team=ops",
        "http://[::1]:9000/",
        "http://localhost/x%20y",
    ],
)
def test_good_urls(url: str) -> None:
    assert create(url=url).url == url


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://example.com/a b",
        "http://example.com/\nX-Injected: 1",
        "http://example.com/\r\n",
        "http://user:pw@example.com/",
        "http://example.com@evil.com/",
        "http://example.com/#frag",
        "http:///nohost",
        "http://exa_mple.com/",
        "http://[::1/",
        "http://example.com:99999/",
        "http://example.com:0/",
        "http://ex\u00e4mple.com/",
        "//example.com/",
        "http://" + "a" * 2050 + ".com/",
        "",
    ],
)
def test_hostile_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationError):
        create(url=url)


@pytest.mark.parametrize(
    "fields",
    [
        {"secret": "short"},
        {"secret": "has a space in it!!"},
        {"secret": "new\nline-new-line-new"},
        {"secret": "x" * 257},
        {"secret": 12345678901234567},
        {"event_types": ["Member.Down"]},
        {"event_types": ["member.*.x"]},
        {"event_types": ["member\n"]},
        {"event_types": "member.operating_status"},
        {"event_types": ["a"] * 51},
        {"severities": ["fatal"]},
        {"loadbalancer_ids": ["not-a-uuid"]},
        {"project_ids": ["p 1"]},
        {"enabled": "yes"},
        {"name": "a\nb"},
        {"unknown": 1},
    ],
)
def test_hostile_fields_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        create(**fields)


def test_empty_filters_let_everything_through() -> None:
    assert matches(EventFilters(), EVENT)
    assert matches(EventFilters(), {**EVENT, "loadbalancer_id": None, "project_id": None})


def test_each_filter_is_one_of_its_values_and_all_must_pass() -> None:
    assert matches(EventFilters(event_types=("member.*",)), EVENT)
    assert matches(EventFilters(event_types=("pool.*", "member.operating_status")), EVENT)
    assert not matches(EventFilters(event_types=("member",)), EVENT)
    assert not matches(EventFilters(event_types=("member.operating",)), EVENT)
    assert not matches(EventFilters(event_types=("memb.*",)), EVENT)
    assert matches(EventFilters(severities=("warning", "critical")), EVENT)
    assert not matches(EventFilters(severities=("critical",)), EVENT)
    assert matches(EventFilters(loadbalancer_ids=("lb-1",), project_ids=("p1",)), EVENT)
    assert not matches(EventFilters(loadbalancer_ids=("lb-1",), project_ids=("p2",)), EVENT)
    deployment_wide = {**EVENT, "loadbalancer_id": None, "project_id": None}
    assert not matches(EventFilters(loadbalancer_ids=("lb-1",)), deployment_wide)


def test_the_allow_list_takes_ip_literals_inside_it_only() -> None:
    loopback = parse_networks("127.0.0.0/8, ::1/128")
    assert destination_refused("http://example.com/", None) is None  # no list: anywhere
    assert destination_refused("http://127.0.0.1:9/", loopback) is None
    assert destination_refused("http://[::1]:9/", loopback) is None
    assert destination_refused("http://localhost:9/", loopback) is None
    assert destination_refused("http://198.18.0.1/", loopback) is not None
    assert destination_refused("http://example.com/", loopback) is not None  # not resolved
    with pytest.raises(ValueError):
        parse_networks("127.0.0.1/8x")
