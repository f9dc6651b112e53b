"""The query parameters of the log endpoints: checked here, so that a bad value is Octavia's
400 naming it (never a filter that silently matches nothing).

Flow logs: `listener_id`, `since` and `until` (ISO 8601; without an offset, UTC),
`status_code` (a code such as 404, or a class such as 5xx) and `client_address` (an IP
address). Admin logs: `source` (agent, haproxy, keepalived), `appliance`, `loadbalancer_id`,
`since`, `until`. Octavia's pagination and sorting as on every list.
"""

import ipaddress
import re

from fastapi import Request

from steelyard.api.listing import time_param
from steelyard.db.logs import AdminFilters, FlowFilters
from steelyard.model.faults import BadRequest, echo
from steelyard.model.logs import ADMIN_SOURCES

FLOW_PARAMS = ("listener_id", "since", "until", "status_code", "client_address")
ADMIN_PARAMS = ("source", "appliance", "loadbalancer_id", "since", "until")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_STATUS = re.compile(r"([1-5])(\d\d|[xX]{2})")
_APPLIANCE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def flow_filters(request: Request) -> FlowFilters:
    return FlowFilters(
        since=time_param(request, "since"),
        until=time_param(request, "until"),
        status=_status(_single(request, "status_code")),
        client_address=_address(_single(request, "client_address")),
        listener_id=_uuid(_single(request, "listener_id"), "listener_id"),
    )


def admin_filters(request: Request) -> AdminFilters:
    source = _single(request, "source")
    if source is not None and source not in ADMIN_SOURCES:
        raise _invalid(source, "source")
    appliance = _single(request, "appliance")
    if appliance is not None and not _APPLIANCE.fullmatch(appliance):
        raise _invalid(appliance, "appliance")
    return AdminFilters(
        since=time_param(request, "since"),
        until=time_param(request, "until"),
        source=source,
        appliance=appliance,
        loadbalancer_id=_uuid(_single(request, "loadbalancer_id"), "loadbalancer_id"),
    )


def _single(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise BadRequest(f"Filter {name} is given more than once.")
    return values[0] if values else None


def _invalid(value: str, name: str) -> BadRequest:
    return BadRequest(f"Invalid value {echo(value)} for filter {name}.")


def _status(text: str | None) -> tuple[int, int] | None:
    """404 -> (404, 404); 5xx -> (500, 599)."""
    if text is None:
        return None
    match = _STATUS.fullmatch(text)
    if match is None:
        raise _invalid(text, "status_code")
    if match[2].isdigit():
        return int(text), int(text)
    hundred = int(match[1]) * 100
    return hundred, hundred + 99


def _address(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise _invalid(text, "client_address") from None


def _uuid(text: str | None, name: str) -> str | None:
    if text is None:
        return None
    if not _UUID.fullmatch(text):
        raise _invalid(text, name)
    return text.lower()
