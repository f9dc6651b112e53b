"""The agent's parser of what HAProxy sends to an appliance's log socket: flow lines in the
renderer's format, HAProxy's own messages, and hostile request lines."""

from datetime import UTC, datetime

import pytest

from steelyard.agent.log_parse import MAX_URI, parse_datagram, parse_flow, split_request
from steelyard.render.haproxy_log import FIELD_NAMES, FIELDS, SEPARATOR, log_format_line

NOW = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
LISTENER = "11111111-1111-4111-8111-111111111111"
POOL = "22222222-2222-4222-8222-222222222222"
MEMBER = "44444444-2222-4222-8222-222222222222"
HEADER = "<134>1 2026-11-26T04:27:16.749791+00:00 - haproxy 17117 - - "


def http_line(request: str = "GET /nothere HTTP/1.1", status: str = "404") -> str:
    fields = [LISTENER, "198.18.0.1", "50876", "1795667236.742", POOL, MEMBER, status]
    fields += ["500", "89", "0", "0", "1", "5", "6", "----", request]
    return SEPARATOR.join(["sy1", *fields])


def test_the_renderer_and_the_parser_agree_on_the_fields() -> None:
    line = log_format_line("http").removeprefix("log-format ")
    assert line.split(SEPARATOR)[1:] == [http for _, http, _ in FIELDS]
    assert len(FIELD_NAMES) == len(http_line().split(SEPARATOR)) - 1


def test_an_http_line_from_haproxy() -> None:
    message = parse_datagram((HEADER + http_line() + "\n").encode(), NOW)
    assert message.severity == "info"
    assert message.time == datetime(2026, 11, 26, 4, 27, 16, 749791, tzinfo=UTC)
    flow = parse_flow(message.message)
    assert flow is not None
    assert flow.listener_id == LISTENER
    assert (flow.client_address, flow.client_port) == ("198.18.0.1", 50876)
    assert flow.accepted_at == datetime.fromtimestamp(1795667236.742, UTC)
    assert (flow.pool_id, flow.member_id, flow.status_code) == (POOL, MEMBER, 404)
    assert (flow.bytes_out, flow.bytes_in) == (500, 89)
    assert (flow.time_request_ms, flow.time_queue_ms, flow.time_connect_ms) == (0, 0, 1)
    assert (flow.time_response_ms, flow.time_total_ms) == (5, 6)
    assert flow.termination_state == "----"
    assert (flow.http_method, flow.request_uri, flow.http_version) == (
        "GET",
        "/nothere",
        "HTTP/1.1",
    )


def test_a_tcp_line_has_no_http_fields() -> None:
    fields = [LISTENER, "::ffff:198.18.0.7", "55912", "1795667236.953", POOL, MEMBER, "-"]
    fields += ["500", "85", "-", "0", "0", "-", "1", "--", "-"]
    flow = parse_flow(SEPARATOR.join(["sy1", *fields]))
    assert flow is not None
    assert flow.client_address == "198.18.0.7"  # IPv4-mapped shown as IPv4
    assert flow.status_code is None and flow.http_method is None and flow.request_uri is None
    assert flow.time_request_ms is None and flow.time_total_ms == 1


def test_a_refused_request_has_no_member_and_no_timers() -> None:
    fields = [LISTENER, "198.18.0.1", "54200", "1795667242.355", LISTENER, "<NOSRV>", "400"]
    fields += ["0", "0", "-1", "-1", "-1", "-1", "0", "PR--", "<BADREQ>"]
    flow = parse_flow(SEPARATOR.join(["sy1", *fields]))
    assert flow is not None
    assert flow.member_id is None and flow.time_queue_ms is None and flow.status_code == 400
    assert (flow.http_method, flow.request_uri) == (None, None)


def test_haproxy_process_messages_are_not_flows() -> None:
    text = "<129>1 2026-11-26T04:27:24.727051+00:00 - haproxy 1 - - Server a/b is DOWN"
    message = parse_datagram(text.encode(), NOW)
    assert message.severity == "alert" and message.message == "Server a/b is DOWN"
    assert parse_flow(message.message) is None


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", b"<999>", b"<13>1 not-a-time - - - - - hi", b"\xff\xfe<1>\x00", b"<1>x\ny"],
)
def test_datagrams_without_a_proper_header_are_kept_as_text(data: bytes) -> None:
    message = parse_datagram(data, NOW)
    assert all(ch.isprintable() for ch in message.message)
    assert message.time == NOW or message.time.tzinfo is not None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('GET /x"y HTTP/1.1', ("GET", '/x"y', "HTTP/1.1")),
        ("GET /a#22b]\\c HTTP/1.1", ("GET", "/a#22b]\\c", "HTTP/1.1")),
        ("GET /x\ny\r\x00z HTTP/1.1", ("GET", "/x?y??z", "HTTP/1.1")),
        ("GET /" + "A" * 5000, ("GET", "/" + "A" * (MAX_URI - 1), None)),  # cut, no version
        ("GET /a|b|c HTTP/1.0", ("GET", "/a|b|c", "HTTP/1.0")),
        ("<BADREQ>", (None, None, None)),
        ("-", (None, None, None)),
        ('G"T /x HTTP/1.1', (None, None, None)),
    ],
)
def test_hostile_request_lines(line: str, expected: tuple[str | None, ...]) -> None:
    assert split_request(line) == expected
    flow = parse_flow(http_line(line))
    assert flow is not None
    assert (flow.http_method, flow.request_uri, flow.http_version) == expected


@pytest.mark.parametrize(
    "broken",
    [
        http_line().replace(LISTENER, "not-a-uuid"),
        http_line().replace("198.18.0.1", "198.18.0.1\nx"),
        http_line().replace("1795667236.742", "1e99"),
        http_line().replace("1795667236.742", "999999999999.999"),
        "sy1|only|three",
        "sy2" + http_line()[3:],
        "",
    ],
)
def test_lines_that_do_not_fit_the_format_are_not_flows(broken: str) -> None:
    assert parse_flow(broken) is None


def test_hostile_numbers_become_none() -> None:
    line = http_line(status="99999999999999999999999")
    flow = parse_flow(line.replace("|500|", "|5e3|"))
    assert flow is not None and flow.status_code is None and flow.bytes_out is None


def test_a_huge_datagram_is_bounded() -> None:
    message = parse_datagram((HEADER + "x" * 100_000).encode(), NOW)
    assert len(message.message) <= 4096
