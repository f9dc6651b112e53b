"""The syslog messages of stored log rows (RFC 5424, syslog_format.py), as Octavia offloads
its logs: flow logs for the tenants' targets, admin logs for the operators'.

A flow message reads like HAProxy's own HTTP log line, and carries the load balancer, listener
and project in its structured data so that a receiver can route it by tenant.
"""

from collections.abc import Mapping
from typing import Any

from steelyard.telemetry.syslog_format import format_message


def flow_message(row: Mapping[str, Any]) -> bytes:
    request = " ".join(
        str(part) for part in (row["http_method"], row["request_uri"], row["http_version"]) if part
    )
    timers = "/".join(
        _dash(row[name])
        for name in (
            "time_request_ms",
            "time_queue_ms",
            "time_connect_ms",
            "time_response_ms",
            "time_total_ms",
        )
    )
    text = (
        f"{row['client_address']}:{_dash(row['client_port'])} {row['listener_id']} "
        f'"{request or "-"}" {_dash(row["status_code"])} {_dash(row["bytes_in"])} '
        f"{_dash(row['bytes_out'])} {row['termination_state'] or '-'} {timers} "
        f"{row['pool_id'] or '-'}/{row['member_id'] or '-'}"
    )
    params = {
        name: None if row[name] is None else str(row[name])
        for name in (
            "project_id",
            "loadbalancer_id",
            "listener_id",
            "pool_id",
            "member_id",
            "client_address",
            "status_code",
        )
    }
    return format_message(
        severity="info",
        moment=row["created_at"],
        hostname=row["appliance"],
        app_name="haproxy",
        msgid="flow",
        params=params,
        message=text,
    )


def admin_message(row: Mapping[str, Any], hostname: str) -> bytes:
    """`hostname`: the control plane's, for records of an agent rather than an appliance."""
    return format_message(
        severity=row["severity"],
        moment=row["created_at"],
        hostname=row["appliance"] or hostname,
        app_name=row["source"],
        msgid="admin",
        params={"project_id": row["project_id"], "loadbalancer_id": row["loadbalancer_id"]},
        message=row["message"],
    )


def _dash(value: object) -> str:
    return "-" if value is None else str(value)
