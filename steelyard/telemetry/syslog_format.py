"""RFC 5424 syslog messages for the remote log targets, and RFC 6587 octet-counting framing
for TCP: pure functions.

    <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID PARAM="VALUE" ...] MSG

Header fields are printable US-ASCII without spaces, of bounded length ("-" when empty);
parameter values escape `"`, `\\` and `]` with a backslash (section 6.3.3); the message is
UTF-8 without control characters, so that a receiver that splits on newlines sees one message.
"""

import re
from collections.abc import Mapping
from datetime import UTC, datetime

FACILITY_LOCAL0 = 16
SEVERITY_CODES = {
    "emerg": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7,
}  # fmt: skip
# Steelyard's structured data element (32473: the example enterprise number of RFC 5612).
SD_ID = "steelyard@32473"
_NOT_HEADER = re.compile(r"[^\x21-\x7e]")
_NOT_SD_NAME = re.compile(r'[^\x21-\x7e]|[= \]"]')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SD_ESCAPE = re.compile(r'(["\\\]])')
MAX_MESSAGE = 8192


def header_field(value: str | None, limit: int) -> str:
    """A header field: printable ASCII, no spaces, at most `limit` characters, "-" if empty."""
    text = _NOT_HEADER.sub("_", value or "")[:limit]
    return text or "-"


def sd_param_value(value: str) -> str:
    return _SD_ESCAPE.sub(r"\\\1", _CONTROL.sub(" ", value))


def structured_data(params: Mapping[str, str | None]) -> str:
    """One SD element of the non-empty params, or "-" when there are none."""
    pairs = [
        f'{_NOT_SD_NAME.sub("_", name)[:32]}="{sd_param_value(value)}"'
        for name, value in params.items()
        if value is not None and value != ""
    ]
    return f"[{SD_ID} {' '.join(pairs)}]" if pairs else "-"


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds; a naive time is taken as UTC."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_message(
    *,
    severity: str,
    moment: datetime,
    hostname: str | None,
    app_name: str,
    msgid: str,
    params: Mapping[str, str | None],
    message: str,
    facility: int = FACILITY_LOCAL0,
) -> bytes:
    pri = facility * 8 + SEVERITY_CODES.get(severity, SEVERITY_CODES["info"])
    header = " ".join(
        (
            f"<{pri}>1",
            timestamp(moment),
            header_field(hostname, 255),
            header_field(app_name, 48),
            "-",  # PROCID
            header_field(msgid, 32),
            structured_data(params),
        )
    )
    text = _CONTROL.sub(" ", message)[:MAX_MESSAGE]
    return f"{header} {text}".encode() if text else header.encode()


def octet_counted(message: bytes) -> bytes:
    """RFC 6587 section 3.4.1: the length in ASCII digits, a space, the message."""
    return str(len(message)).encode() + b" " + message
