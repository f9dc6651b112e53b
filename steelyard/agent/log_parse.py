"""Parse what HAProxy sends to an appliance's log socket: an RFC 5424 syslog header, then
either a flow log line (render/haproxy_log.py) or one of HAProxy's own messages.

Everything here is untrusted text: a client chooses its request line, so every field is
checked against what it can be, bounded in length, and control characters never pass.
"""

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from steelyard.agent.log_records import (
    MAX_MESSAGE,
    SEVERITIES,
    FlowRecord,
    FlowValues,
    Severity,
    flow_record,
)
from steelyard.render.haproxy_log import FIELD_NAMES, FORMAT_TAG, SEPARATOR

# <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]
_RFC5424 = re.compile(
    r"<(?P<pri>\d{1,3})>1 (?P<time>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+)"
    r" (?P<sd>-|\[.*?\](?<!\\\]))(?: (?P<msg>.*))?",
    re.DOTALL,
)
# The header of a flow line as HAProxy sends it (no structured data), up to the message.
_FLOW_HEADER = re.compile(
    r"<(?P<pri>\d{1,3})>1 [^ ]+ [^ ]+ [^ ]+ [^ ]+ [^ ]+ - (?="
    + re.escape(FORMAT_TAG + SEPARATOR)
    + ")"
)
_PRI_ONLY = re.compile(r"<(?P<pri>\d{1,3})>(?P<msg>.*)", re.DOTALL)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z, the last a datetime holds
# Counters and timers: digits (a group) or anything else (None: `-`, HAProxy's -1, junk).
_NUMBERS = (
    "client_port", "status_code", "bytes_out", "bytes_in", "time_request_ms", "time_queue_ms",
    "time_connect_ms", "time_response_ms", "time_total_ms",
)  # fmt: skip
_FIELD_PATTERNS = {
    "accepted_at": r"(?P<seconds>[0-9]{1,12})\.(?P<millis>[0-9]{3})",
    "request": r"(?P<request>.*)",  # last: whatever follows the other fields
    **{name: rf"(?:(?P<{name}>[0-9]{{1,18}})|[^|]*)" for name in _NUMBERS},
}
# The whole access-log line (render/haproxy_log.py), in one match: the tag, then each field.
_FLOW_LINE = re.compile(
    re.escape(FORMAT_TAG)
    + "".join(
        re.escape(SEPARATOR) + _FIELD_PATTERNS.get(name, rf"(?P<{name}>[^|]*)")
        for name in FIELD_NAMES
    ),
    re.ASCII | re.DOTALL,
)
_TERMINATION = re.compile(r"[A-Za-z-]{2,4}")
# METHOD URI [VERSION]: the URI is what lies between (spaces included); no version when the
# line was cut short.
_REQUEST = re.compile(
    r"(?P<method>[A-Za-z-]{1,32}) (?P<uri>.*?)(?: (?P<version>HTTP/[0-9](?:\.[0-9])?))?", re.DOTALL
)
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_URI = 2048


@dataclass(frozen=True)
class SyslogMessage:
    severity: Severity
    time: datetime  # aware, UTC
    message: str


def parse_datagram(data: bytes, now: datetime) -> SyslogMessage:
    """The header's severity and time and the message; a datagram without a header whole,
    as `info` at `now` (aware)."""
    text = data.decode("utf-8", errors="replace").rstrip("\r\n")
    match = _RFC5424.fullmatch(text)
    if match is not None:
        return SyslogMessage(
            _severity(match["pri"]), _time(match["time"]) or now, clean(match["msg"] or "")
        )
    bare = _PRI_ONLY.fullmatch(text)
    if bare is not None:
        return SyslogMessage(_severity(bare["pri"]), now, clean(bare["msg"]))
    return SyslogMessage("info", now, clean(text))


def parse_flow_datagram(data: bytes) -> tuple[Severity, int, FlowValues] | None:
    """The severity, time and values of a datagram holding an access-log line (parse_flow_values);
    None for anything else, which parse_datagram reads. The common case first: once per request,
    without the general header parse."""
    text = data.decode("utf-8", errors="replace").rstrip("\r\n")
    header = _FLOW_HEADER.match(text)
    if header is None:
        return None
    parsed = parse_flow_values(text[header.end() :])
    if parsed is None:
        return None
    return _severity(header["pri"]), *parsed


def parse_flow(message: str) -> FlowRecord | None:
    """The flow record of an access-log line; None for anything else (HAProxy's own messages,
    a line that does not have the format's fields)."""
    parsed = parse_flow_values(message)
    return None if parsed is None else flow_record(*parsed)


def parse_flow_values(message: str) -> tuple[int, FlowValues] | None:
    """When the request was accepted (microseconds since the epoch) and the values of
    log_records.FLOW_COLUMNS, of an access-log line; None for anything else. Runs once per
    request: one match of the whole line, no objects."""
    match = _FLOW_LINE.fullmatch(message)
    if match is None:
        return None
    listener_id = _uuid(match["listener_id"])
    client = _address(match["client_address"])
    seconds = int(match["seconds"])
    if listener_id is None or client is None or seconds > _LAST_SECOND:
        return None
    (
        client_port, status, bytes_out, bytes_in, t_request, t_queue, t_connect, t_response,
        t_total,
    ) = (None if digits is None else int(digits) for digits in match.group(*_NUMBERS))  # fmt: skip
    method, uri, version = split_request(match["request"])
    termination = match["termination_state"]
    return seconds * 1_000_000 + int(match["millis"]) * 1000, (
        listener_id,
        client,
        client_port,
        _uuid(match["backend"]),
        _uuid(match["server"]),
        status if status is not None and 100 <= status <= 999 else None,
        bytes_in,
        bytes_out,
        t_request,
        t_queue,
        t_connect,
        t_response,
        t_total,
        termination if _TERMINATION.fullmatch(termination) else None,
        method,
        uri,
        version,
    )


def split_request(line: str) -> tuple[str | None, str | None, str | None]:
    """(method, URI, version) of a request line as HAProxy logs it; a line cut short has no
    version, `<BADREQ>` and `-` (TCP) have nothing."""
    match = _REQUEST.fullmatch(line)
    if match is None:
        return None, None, None
    return match["method"], clean(match["uri"])[:MAX_URI], match["version"]


def clean(text: str) -> str:
    """Printable text of bounded length: control characters become `?`."""
    return _UNPRINTABLE.sub("?", text[:MAX_MESSAGE])


def _severity(pri: str) -> Severity:
    return SEVERITIES[int(pri) % 8]


def _time(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


@lru_cache(maxsize=4096)  # the ids of the appliance's own listeners, pools and members
def _uuid(text: str) -> str | None:
    return text.lower() if _UUID.fullmatch(text) else None


@lru_cache(maxsize=4096)  # clients come back; a flood of new ones only churns it
def _address(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)
