"""Parse what HAProxy sends to an appliance's log socket: an RFC 5424 syslog header, then
either a flow log line (render/haproxy_log.py) or one of HAProxy's own messages.

Everything here is untrusted text: a client chooses its request line, so every field is
checked against what it can be, bounded in length, and control characters never pass.
"""

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from steelyard.agent.log_records import MAX_MESSAGE, SEVERITIES, FlowRecord, Severity
from steelyard.render.haproxy_log import FIELD_NAMES, FORMAT_TAG, SEPARATOR

# <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]
_RFC5424 = re.compile(
    r"<(?P<pri>\d{1,3})>1 (?P<time>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+)"
    r" (?P<sd>-|\[.*?\](?<!\\\]))(?: (?P<msg>.*))?",
    re.DOTALL,
)
_PRI_ONLY = re.compile(r"<(?P<pri>\d{1,3})>(?P<msg>.*)", re.DOTALL)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NUMBER = re.compile(r"-?\d{1,18}")
_ACCEPTED = re.compile(r"\d{1,12}\.\d{3}")
_TERMINATION = re.compile(r"[A-Za-z-]{2,4}")
_METHOD = re.compile(r"[A-Za-z-]{1,32}")
_VERSION = re.compile(r"HTTP/\d(?:\.\d)?")
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


def parse_flow(message: str) -> FlowRecord | None:
    """The flow record of an access-log line; None for anything else (HAProxy's own messages,
    a line that does not have the format's fields)."""
    parts = message.split(SEPARATOR, len(FIELD_NAMES))
    if len(parts) != len(FIELD_NAMES) + 1 or parts[0] != FORMAT_TAG:
        return None
    values = dict(zip(FIELD_NAMES, parts[1:], strict=True))
    listener_id = _uuid(values["listener_id"])
    client = _address(values["client_address"])
    accepted = _accepted(values["accepted_at"])
    if listener_id is None or client is None or accepted is None:
        return None
    method, uri, version = split_request(values["request"])
    status = _number(values["status_code"])
    # Every field is checked above: built without validating it twice (once per request).
    return FlowRecord.model_construct(
        listener_id=listener_id,
        client_address=client,
        client_port=_number(values["client_port"]),
        accepted_at=accepted,
        pool_id=_uuid(values["backend"]),
        member_id=_uuid(values["server"]),
        status_code=status if status is not None and 100 <= status <= 999 else None,
        bytes_in=_number(values["bytes_in"]),
        bytes_out=_number(values["bytes_out"]),
        time_request_ms=_number(values["time_request_ms"]),
        time_queue_ms=_number(values["time_queue_ms"]),
        time_connect_ms=_number(values["time_connect_ms"]),
        time_response_ms=_number(values["time_response_ms"]),
        time_total_ms=_number(values["time_total_ms"]),
        termination_state=values["termination_state"]
        if _TERMINATION.fullmatch(values["termination_state"])
        else None,
        http_method=method,
        request_uri=uri,
        http_version=version,
    )


def split_request(line: str) -> tuple[str | None, str | None, str | None]:
    """(method, URI, version) of a request line as HAProxy logs it; a line cut short has no
    version, `<BADREQ>` and `-` (TCP) have nothing."""
    parts = line.split(" ")
    if len(parts) < 2 or not _METHOD.fullmatch(parts[0]):
        return None, None, None
    version = parts[-1] if len(parts) > 2 and _VERSION.fullmatch(parts[-1]) else None
    uri = " ".join(parts[1:-1] if version else parts[1:])
    return parts[0], clean(uri)[:MAX_URI], version


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


def _uuid(text: str) -> str | None:
    return text.lower() if _UUID.fullmatch(text) else None


def _address(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _number(text: str) -> int | None:
    """A counter or timer; `-` and HAProxy's -1 (never reached that step) are None."""
    if not _NUMBER.fullmatch(text):
        return None
    value = int(text)
    return value if value >= 0 else None


def _accepted(text: str) -> datetime | None:
    if not _ACCEPTED.fullmatch(text):
        return None
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except (OverflowError, OSError, ValueError):
        return None
