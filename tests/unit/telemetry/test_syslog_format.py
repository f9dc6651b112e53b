"""RFC 5424 messages and RFC 6587 framing for the remote log targets."""

import re
from datetime import UTC, datetime, timedelta, timezone

from steelyard.telemetry.logs_offload import admin_message, flow_message
from steelyard.telemetry.syslog_format import (
    format_message,
    header_field,
    octet_counted,
    sd_param_value,
    structured_data,
    timestamp,
)

MOMENT = datetime(2026, 11, 26, 4, 27, 16, 749791)
# <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG
RFC5424 = re.compile(
    r"<(\d{1,3})>1 (\S+) ([\x21-\x7e]{1,255}) ([\x21-\x7e]{1,48}) ([\x21-\x7e]{1,128}) "
    r"([\x21-\x7e]{1,32}) (-|\[(?:[^\]\\]|\\.)*\])(?: (.*))?",
    re.DOTALL,
)


def test_pri_version_timestamp_and_fields() -> None:
    message = format_message(
        severity="err",
        moment=MOMENT,
        hostname="app-1",
        app_name="haproxy",
        msgid="flow",
        params={"project_id": "p1", "empty": None},
        message="hello",
    ).decode()
    assert message == (
        '<131>1 2026-11-26T04:27:16.749791Z app-1 haproxy - flow [steelyard@32473 project_id="p1"]'
        " hello"
    )
    match = RFC5424.fullmatch(message)
    assert match is not None and int(match[1]) == 16 * 8 + 3


def test_timestamps_are_utc() -> None:
    aware = MOMENT.replace(tzinfo=timezone(timedelta(hours=2)))
    assert timestamp(aware) == "2026-11-26T02:27:16.749791Z"
    assert timestamp(MOMENT.replace(tzinfo=UTC)) == timestamp(MOMENT)


def test_structured_data_escapes_quote_backslash_and_bracket() -> None:
    assert sd_param_value('a"b\\c]d') == 'a\\"b\\\\c\\]d'
    sd = structured_data({"uri": '/x"]\\', 'bad name="': "v\nw"})
    assert sd == '[steelyard@32473 uri="/x\\"\\]\\\\" bad_name__="v w"]'
    assert structured_data({"none": None, "empty": ""}) == "-"


def test_header_fields_are_printable_bounded_and_never_empty() -> None:
    assert header_field("a b\nc", 10) == "a_b_c"
    assert header_field("", 10) == "-" and header_field(None, 10) == "-"
    assert header_field("é" * 300, 255) == "_" * 255


def test_hostile_messages_stay_one_line_and_parse() -> None:
    message = format_message(
        severity="nonsense",
        moment=MOMENT,
        hostname="h\nx",
        app_name="a" * 100,
        msgid="m",
        params={"k": 'x"]\\' * 1000},
        message="line\nsecond\r\x00" + "z" * 20_000,
    ).decode()
    assert "\n" not in message and "\r" not in message and "\x00" not in message
    match = RFC5424.fullmatch(message)
    assert match is not None and match[1] == str(16 * 8 + 6)  # unknown severity: info
    assert len(match[4]) == 48 and len(match[8]) == 8192


def test_octet_counting() -> None:
    assert octet_counted(b"<134>1 x") == b"8 <134>1 x"
    assert octet_counted("é".encode()) == b"2 " + "é".encode()


def test_flow_and_admin_messages() -> None:
    row = {
        "created_at": MOMENT,
        "appliance": "sy-abc-0",
        "project_id": "p1",
        "loadbalancer_id": "lb",
        "listener_id": "li",
        "pool_id": "po",
        "member_id": None,
        "client_address": "198.51.100.7",
        "client_port": 40000,
        "status_code": 404,
        "http_method": "GET",
        "request_uri": '/x"y',
        "http_version": "HTTP/1.1",
        "bytes_in": 10,
        "bytes_out": 20,
        "termination_state": "----",
        "time_request_ms": 0,
        "time_queue_ms": 0,
        "time_connect_ms": 1,
        "time_response_ms": None,
        "time_total_ms": 3,
    }
    flow = flow_message(row).decode()
    assert flow.startswith("<134>1 2026-11-26T04:27:16.749791Z sy-abc-0 haproxy - flow [")
    assert flow.endswith(' 198.51.100.7:40000 li "GET /x"y HTTP/1.1" 404 10 20 ---- 0/0/1/-/3 po/-')
    assert 'status_code="404"' in flow and "member_id" not in flow
    admin = admin_message(
        {
            "created_at": MOMENT,
            "appliance": None,
            "source": "agent",
            "severity": "warning",
            "project_id": None,
            "loadbalancer_id": None,
            "message": "agent restarted",
        },
        "host-1",
    ).decode()
    assert admin == "<132>1 2026-11-26T04:27:16.749791Z host-1 agent - admin - agent restarted"
