"""Pure readers of what HAProxy, keepalived and `ip -j` say, into the diagnostics types.

Tolerant: a field HAProxy leaves empty or a version does not have becomes None (or 0 for
counters); a malformed line is skipped rather than failing the whole section.
"""

import contextlib
import re
from collections import Counter
from typing import Any

from steelyard.agent.runtime_api import stat_records
from steelyard.model.diagnostics import (
    HaproxyInfo,
    Interface,
    Route,
    ServerState,
    SessionSummary,
    StatLine,
    VrrpInstance,
)

# `show info` key -> HaproxyInfo field; the value's type follows the field's.
_INFO_FIELDS = {
    "Version": "version",
    "Release_date": "release_date",
    "Pid": "pid",
    "Nbthread": "nbthread",
    "Uptime": "uptime",
    "Uptime_sec": "uptime_sec",
    "Maxconn": "maxconn",
    "Hard_maxconn": "hard_maxconn",
    "Ulimit-n": "ulimit_n",
    "CurrConns": "curr_conns",
    "CumConns": "cum_conns",
    "CumReq": "cum_req",
    "ConnRate": "conn_rate",
    "MaxConnRate": "max_conn_rate",
    "SessRate": "sess_rate",
    "CurrSslConns": "curr_ssl_conns",
    "Listeners": "listeners",
    "Jobs": "jobs",
    "Run_queue": "run_queue",
    "Idle_pct": "idle_pct",
    "Stopping": "stopping",
    "DroppedLogs": "dropped_logs",
}
_TEXT_INFO = {"version", "release_date", "uptime"}
_STAT_TYPES = {"0": "frontend", "1": "backend", "2": "server", "3": "listener"}
_HTTP_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx", "other")
# HAProxy 2.6: enum srv_state, enum srv_admin (bits), enum chk_result.
_OP_STATES = {"0": "STOPPED", "1": "STARTING", "2": "RUNNING", "3": "STOPPING"}
_ADMIN_BITS = (
    (0x01, "FMAINT"),
    (0x02, "IMAINT"),
    (0x04, "CMAINT"),
    (0x08, "FDRAIN"),
    (0x10, "IDRAIN"),
    (0x20, "RMAINT"),
    (0x40, "HMAINT"),
)
_CHECK_RESULTS = {"0": "UNKNOWN", "1": "NEUTRAL", "2": "FAILED", "3": "PASSED", "4": "CONDPASS"}
_SESSION = re.compile(r" fe=(?P<fe>\S+) be=(?P<be>\S+) srv=(?P<srv>\S+)")
_CLI_FRONTEND = "GLOBAL"  # the stats socket's own sessions (this very `show sess` among them)
_NO_NAME = ("<NONE>", "<none>")


def parse_show_info(text: str) -> HaproxyInfo:
    values: dict[str, Any] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        field = _INFO_FIELDS.get(key.strip()) if sep else None
        if field is None:
            continue
        value = value.strip()
        values[field] = value if field in _TEXT_INFO else _int(value)
    return HaproxyInfo(**values)


def parse_show_stat(text: str) -> list[StatLine]:
    rows = []
    for record in stat_records(text):
        kind = _STAT_TYPES.get(record.get("type") or "")
        if kind is None or not record.get("pxname") or not record.get("svname"):
            continue
        rows.append(
            StatLine(
                proxy=record["pxname"],
                name=record["svname"],
                type=kind,
                status=record.get("status") or "",
                address=record.get("addr") or None,
                weight=_int(record.get("weight")),
                current_sessions=_int(record.get("scur")) or 0,
                max_sessions=_int(record.get("smax")) or 0,
                session_limit=_int(record.get("slim")),
                total_sessions=_int(record.get("stot")) or 0,
                queued=_int(record.get("qcur")) or 0,
                bytes_in=_int(record.get("bin")) or 0,
                bytes_out=_int(record.get("bout")) or 0,
                request_errors=_int(record.get("ereq")) or 0,
                connection_errors=_int(record.get("econ")) or 0,
                response_errors=_int(record.get("eresp")) or 0,
                http_responses={
                    name: count
                    for name in _HTTP_CLASSES
                    if (count := _int(record.get(f"hrsp_{name}"))) is not None
                },
                # "* L4TOUT": the last result, while the next check is running
                check_status=(record.get("check_status") or "").removeprefix("* ") or None,
                check_code=_int(record.get("check_code")),
                check_duration_ms=_int(record.get("check_duration")),
                check_description=record.get("check_desc") or None,
                last_check=record.get("last_chk") or None,
                check_failures=_int(record.get("chkfail")) or 0,
                down_transitions=_int(record.get("chkdown")) or 0,
                last_change_s=_int(record.get("lastchg")),
                downtime_s=_int(record.get("downtime")),
            )
        )
    return rows


def parse_servers_state(text: str) -> list[ServerState]:
    """`show servers state` (format version 1): one ServerState per server line."""
    lines = text.splitlines()
    if len(lines) < 2 or lines[0] != "1" or not lines[1].startswith("# "):
        raise ValueError(f"unexpected 'show servers state' answer: {text[:200]!r}")
    columns = lines[1][2:].split()
    servers = []
    for line in lines[2:]:
        fields = line.split(" ")
        if len(fields) != len(columns):
            continue
        row = dict(zip(columns, fields, strict=True))
        admin = _int(row.get("srv_admin_state")) or 0
        servers.append(
            ServerState(
                backend=row.get("be_name", ""),
                server=row.get("srv_name", ""),
                address=row.get("srv_addr", ""),
                port=_int(row.get("srv_port")) or None,
                operational_state=_OP_STATES.get(row.get("srv_op_state", ""), "UNKNOWN"),
                admin_state=[name for bit, name in _ADMIN_BITS if admin & bit],
                user_weight=_int(row.get("srv_uweight")),
                initial_weight=_int(row.get("srv_iweight")),
                seconds_since_change=_int(row.get("srv_time_since_last_change")),
                check_result=_CHECK_RESULTS.get(row.get("srv_check_result", "")),
                check_address=_name(row.get("srv_check_addr")),
                check_port=_int(row.get("srv_check_port")) or None,
            )
        )
    return servers


def summarise_sessions(text: str, limit: int) -> SessionSummary:
    """Count `show sess` lines by frontend, backend and server, at most `limit` of them.

    The answer may be cut mid-line (read with a byte limit): a last line without its end is
    not counted, and the summary says it is partial."""
    lines = text.split("\n")
    complete, cut = lines[:-1], lines[-1] != ""
    frontends: Counter[str] = Counter()
    backends: Counter[str] = Counter()
    servers: Counter[str] = Counter()
    scanned = 0
    for line in complete:
        if scanned >= limit:
            cut = True
            break
        found = _SESSION.search(line)
        if found is None:
            continue
        scanned += 1
        if found["fe"] == _CLI_FRONTEND:
            continue
        frontends[found["fe"]] += 1
        if found["be"] not in _NO_NAME:
            backends[found["be"]] += 1
            if found["srv"] not in _NO_NAME:
                servers[f"{found['be']}/{found['srv']}"] += 1
    return SessionSummary(
        total=sum(frontends.values()),
        by_frontend=dict(frontends.most_common()),
        by_backend=dict(backends.most_common()),
        by_server=dict(servers.most_common()),
        scanned=scanned,
        truncated=cut,
    )


def parse_keepalived_instances(cfg: str) -> list[VrrpInstance]:
    """The vrrp_instance blocks of a keepalived.conf (the one Steelyard renders, or any in
    keepalived's syntax: one keyword per line, `{`/`}` opening and closing blocks)."""
    instances: list[VrrpInstance] = []
    current: dict[str, Any] | None = None
    block: list[str] = []  # the nested block we are in, innermost last
    for raw in cfg.splitlines():
        words = raw.split("#", 1)[0].split("!", 1)[0].split()
        if not words:
            continue
        if current is None:
            if words[0] == "vrrp_instance" and len(words) >= 2:
                current = {"name": words[1], "unicast_peers": [], "virtual_ipaddresses": []}
            continue
        if words[0] == "}":
            if block:
                block.pop()
                continue
            instances.append(VrrpInstance(**current))
            current = None
            continue
        if words[-1] == "{":
            block.append(words[0])
            continue
        if block:
            if block == ["unicast_peer"]:
                current["unicast_peers"].append(words[0])
            elif block == ["virtual_ipaddress"]:
                current["virtual_ipaddresses"].append(" ".join(words))
            continue
        _instance_keyword(current, words)
    return instances


def _instance_keyword(instance: dict[str, Any], words: list[str]) -> None:
    key, value = words[0], words[1] if len(words) > 1 else None
    if key == "nopreempt":
        instance["nopreempt"] = True
    elif key in ("interface", "unicast_src_ip") and value:
        instance[key] = value
    elif key in ("virtual_router_id", "priority", "version") and value:
        instance[key] = _int(value)
    elif key == "advert_int" and value:
        with contextlib.suppress(ValueError):
            instance[key] = float(value)


def parse_ip_addr(records: list[dict[str, Any]]) -> list[Interface]:
    """`ip -j addr show`."""
    interfaces = []
    for link in records:
        if not isinstance(link, dict) or not isinstance(link.get("ifname"), str):
            continue
        addresses = [
            f"{info['local']}/{info['prefixlen']}"
            for info in link.get("addr_info") or ()
            if isinstance(info, dict) and "local" in info and "prefixlen" in info
        ]
        interfaces.append(
            Interface(
                name=link["ifname"],
                state=str(link.get("operstate", "UNKNOWN")),
                mtu=link.get("mtu") if isinstance(link.get("mtu"), int) else None,
                mac=link.get("address") if isinstance(link.get("address"), str) else None,
                flags=[str(flag) for flag in link.get("flags") or ()],
                addresses=addresses,
            )
        )
    return interfaces


def parse_ip_route(records: list[dict[str, Any]], family: str) -> list[Route]:
    """`ip -j [-6] route show`; `family` is "inet" or "inet6"."""
    routes = []
    for entry in records:
        if not isinstance(entry, dict) or not isinstance(entry.get("dst"), str):
            continue
        hops = [
            " ".join(
                part
                for part in (
                    f"via {hop['gateway']}" if hop.get("gateway") else "",
                    f"dev {hop['dev']}" if hop.get("dev") else "",
                )
                if part
            )
            for hop in entry.get("nexthops") or ()
            if isinstance(hop, dict)
        ]
        routes.append(
            Route(
                family=family,
                destination=entry["dst"],
                type=_text(entry.get("type")),
                gateway=_text(entry.get("gateway")),
                device=_text(entry.get("dev")),
                source=_text(entry.get("prefsrc")),
                protocol=_text(entry.get("protocol")),
                scope=_text(entry.get("scope")),
                nexthops=hops,
            )
        )
    return routes


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.lstrip("-").isdigit() else None


def _name(value: str | None) -> str | None:
    return None if value in (None, "", "-") else value


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, str | int) and value != "" else None
