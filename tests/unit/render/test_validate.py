"""The allow-lists behind every value the renderers write."""

from typing import Any

import pytest

from steelyard.model.enums import HTTPMethod
from steelyard.render import validate as v
from steelyard.render.errors import RenderError


def test_render_error_is_a_value_error() -> None:
    assert issubclass(RenderError, ValueError)


@pytest.mark.parametrize(
    "value",
    ["6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab", "6F1C2D3E-4A5B-4C6D-8E7F-0123456789AB"],
)
def test_uuid_accepts(value: str) -> None:
    assert v.uuid(value, "id") == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "6f1c2d3e4a5b4c6d8e7f0123456789ab",
        "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab\n",
        "{6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab}",
        "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ag",
        "\u0666f1c2d3e-4a5b-4c6d-8e7f-0123456789ab",
        None,
        123,
    ],
)
def test_uuid_rejects(value: Any) -> None:
    with pytest.raises(RenderError, match="id must be a UUID"):
        v.uuid(value, "id")


def test_error_messages_are_short() -> None:
    with pytest.raises(RenderError) as error:
        v.uuid("x" * 10_000, "listener.id")
    assert len(str(error.value)) < 120


@pytest.mark.parametrize(
    ("value", "low", "high"), [(True, 0, 1), ("1", 0, 9), (1.0, 0, 9), (10, 0, 9), (-1, 0, 9)]
)
def test_integer_rejects(value: Any, low: int, high: int) -> None:
    with pytest.raises(RenderError):
        v.integer(value, "n", low, high)


def test_port_bounds() -> None:
    assert v.port(1, "p") == 1
    assert v.port(65535, "p") == 65535
    for bad in (0, 65536):
        with pytest.raises(RenderError):
            v.port(bad, "p")


def test_boolean_is_strict() -> None:
    assert v.boolean(False, "b") is False
    for bad in (0, 1, "false", None):
        with pytest.raises(RenderError):
            v.boolean(bad, "b")


def test_member_of_accepts_spelling_and_member() -> None:
    assert v.member_of(HTTPMethod, "HEAD", "m") is HTTPMethod.HEAD
    assert v.member_of(HTTPMethod, HTTPMethod.GET, "m") is HTTPMethod.GET
    for bad in ("get", "GET ", "GET\n", None, ["GET"]):
        with pytest.raises(RenderError):
            v.member_of(HTTPMethod, bad, "m")


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("198.18.0.1", "198.18.0.1"),
        ("127.0.0.2", "127.0.0.2"),
        ("fd00::1", "[fd00::1]"),
        ("FD00:0:0::0001", "[fd00::1]"),
        ("::ffff:198.18.0.1", "[::ffff:c612:1]"),
    ],
)
def test_ip_address_and_host(value: str, written: str) -> None:
    assert v.host(v.ip_address(value, "a")) == written


@pytest.mark.parametrize(
    "value",
    [
        "",
        "198.18.0.1 ",
        "198.18.0.01",
        "198.18.0.1/32",
        "fe80::1%eth0",
        "fe80::1%eth0\nbackend x",
        "[fd00::1]",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "ff02::1",
        "example.com",
        "\u0661.2.3.4",
        3232235521,
    ],
)
def test_ip_address_rejects(value: Any) -> None:
    with pytest.raises(RenderError):
        v.ip_address(value, "a")


def test_host_port() -> None:
    assert v.host_port(v.ip_address("fd00::1", "a"), 80) == "[fd00::1]:80"
    assert v.host_port(v.ip_address("198.18.0.1", "a"), 80) == "198.18.0.1:80"


@pytest.mark.parametrize(
    "value",
    # Empty segments ("//") are not RFC 3986 path-absolute but are harmless, so they pass.
    ["/", "//", "/healthz", "/a/b/c.html", "/x?y=1&z=2", "/%20ok", "/a;b=c", "/~u/(x)", "/q?/a?b"],
)
def test_url_path_accepts(value: str) -> None:
    assert v.url_path(value, "u") == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "health",
        "/a b",
        "/a\tb",
        "/a\nb",
        "/a#b",
        "/a'b",
        '/a"b',
        "/a\\b",
        "/$HOME",
        "/${HOME}",
        "/{x}",
        "/%zz",
        "/%2",
        "/é",
        "/" + "a" * 1024,
        "http://example.com/",
    ],
)
def test_url_path_rejects(value: str) -> None:
    with pytest.raises(RenderError):
        v.url_path(value, "u")


@pytest.mark.parametrize("value", ["JSESSIONID", "PHPSESSID", "a.b-c_d", "x!y*z+^`|~&"])
def test_cookie_name_accepts(value: str) -> None:
    assert v.cookie_name(value, "c") == value


@pytest.mark.parametrize(
    "value",
    ["", "a b", "a=b", "a;b", "a,b", "a)b", "a#b", "a$b", "a%b", "a'b", "a\nb", "é", "a" * 256],
)
def test_cookie_name_rejects(value: str) -> None:
    with pytest.raises(RenderError):
        v.cookie_name(value, "c")


@pytest.mark.parametrize("value", ["example.com", "a", "app.example.com.", "my_host-1.example"])
def test_hostname_accepts(value: str) -> None:
    assert v.hostname(value, "h") == value


@pytest.mark.parametrize(
    "value",
    ["", ".", "-a.com", "a-.com", "a..com", "a b", "a:80", "a/b", "é.com", "a" * 64, "a." * 127],
)
def test_hostname_rejects(value: str) -> None:
    with pytest.raises(RenderError):
        v.hostname(value, "h")


@pytest.mark.parametrize("value", ["200", "200,202", "200-204", "200-204,301,302-308", "100-599"])
def test_expected_codes_accepts(value: str) -> None:
    assert v.expected_codes(value, "e") == value


@pytest.mark.parametrize(
    "value",
    ["", "20", "2000", "600", "099", "204-200", "200-204-206", "200,", ",200", "200 ,202", "2xx"],
)
def test_expected_codes_rejects(value: str) -> None:
    with pytest.raises(RenderError):
        v.expected_codes(value, "e")


def test_absolute_path() -> None:
    assert v.absolute_path("/run/sy/a/stats.sock", "p") == "/run/sy/a/stats.sock"
    for bad in ("run/x", "/a b", "/a\n", "/a;b", "", "/" + "a" * 4096):
        with pytest.raises(RenderError):
            v.absolute_path(bad, "p")
    with pytest.raises(RenderError):
        v.absolute_path("/" + "a" * 107, "p", v.MAX_UNIX_SOCKET_PATH)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("255.255.255.255", (4, 32)),
        ("255.255.255.0", (4, 24)),
        ("255.255.128.0", (4, 17)),
        ("0.0.0.0", (4, 0)),
        ("ffff:ffff:ffff:ffff::", (6, 64)),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", (6, 128)),
    ],
)
def test_netmask_prefix(value: str, expected: tuple[int, int]) -> None:
    assert v.netmask_prefix(value, "g") == expected


@pytest.mark.parametrize("value", ["255.0.255.0", "0.0.0.255", "24", "/24", "ffff::ffff", "x"])
def test_netmask_prefix_rejects(value: str) -> None:
    with pytest.raises(RenderError):
        v.netmask_prefix(value, "g")
