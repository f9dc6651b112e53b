"""What the protection tables of a running HAProxy say: refusals per reason, tracked sources,
and the busiest sources of each protected listener (the tables are described in
render/protection.py: `st_<listener id>` per source, `sr_<listener id>` per reason).

Cost: HAProxy answers `show table <name>` by walking the whole table, and a walk that finds
little to print does not yield, so its thread serves nothing meanwhile (measured on 2.6.12 with
1,000,000 entries: ≈0.16-0.4 s per filtered scan, ≈3 s and 110 MB for a full dump, which does
yield). Hence:
- `show table` without a name gives every table's `used` count at no cost;
- a table with at most `full_scan_limit` entries is dumped whole (≈3 µs per entry);
- a larger one is scanned once per configured limit, `data.<metric> gt <limit>`, listing only
  sources over that limit: the offenders, which is what a report of an attack needs.
Answers are parsed as they stream in and only the top entries are kept, so memory stays small
whatever the table holds.
"""

import heapq
import ipaddress
import re
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from steelyard.agent.contract import (
    REJECTION_REASONS,
    ListenerProtection,
    ProtectionStats,
    SourceStats,
)
from steelyard.agent.runtime_api import RuntimeApi, RuntimeApiError

FULL_SCAN_LIMIT = 10_000
TOP = 10
METRICS = ("http_req_rate", "conn_rate", "conn_cur")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_TABLE = re.compile(
    rf"# table: (?P<kind>st|sr)_(?P<id>{_UUID}), type: (?P<type>[a-z0-9]+), "
    r"size:(?P<size>[0-9]+), used:(?P<used>[0-9]+)"
)
_ENTRY = re.compile(r"0x[0-9a-f]+: key=(?P<key>\S+) use=-?[0-9]+ exp=-?[0-9]+(?P<data>( \S+)*)")
_DATUM = re.compile(r"(?P<name>[a-z_]+[0-9]*)(?:\([0-9]+\))?=(?P<value>-?[0-9]+)")
# The limit lines the renderer writes, e.g. `acl sy_req_rate sc0_http_req_rate gt 100`.
_LIMIT = re.compile(
    r"acl sy_[a-z_]+ sc0_(?P<metric>conn_cur|conn_rate|http_req_rate) gt (?P<n>[0-9]+)"
)
_SECTION = re.compile(rf"(?:(?P<frontend>frontend )|backend st_)(?P<id>{_UUID})")
_PERIOD = re.compile(r"(conn_rate|http_req_rate)\(([0-9]+)s\)")


@dataclass(frozen=True)
class TableInfo:
    kind: str  # "st" (sources) or "sr" (reasons)
    listener_id: str
    type: str
    size: int
    used: int


@dataclass(frozen=True)
class Entry:
    key: str
    data: dict[str, int]  # conn_cur, conn_rate, http_req_rate, gpc0, ...


def parse_tables(text: str) -> list[TableInfo]:
    """Our tables from `show table` (one `# table: ...` line each); others are ignored."""
    tables = []
    for line in text.splitlines():
        match = _TABLE.fullmatch(line.strip())
        if match:
            tables.append(
                TableInfo(
                    kind=match["kind"],
                    listener_id=match["id"].lower(),
                    type=match["type"],
                    size=int(match["size"]),
                    used=int(match["used"]),
                )
            )
    return tables


def parse_entries(lines: Iterable[str]) -> Iterator[Entry]:
    """Entries of a `show table <name>` answer, header and blank lines skipped.

    Anything else (an error such as "No such table") raises: a silent empty answer would read
    as "nobody is over the limit".
    """
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("# table:"):
            continue
        match = _ENTRY.fullmatch(line)
        if match is None:
            raise RuntimeApiError(f"unexpected 'show table' line: {line[:200]!r}")
        data: dict[str, int] = {}
        for word in match["data"].split():
            # `conn_rate(10000)=9`: the period (ms) is in the config too; other data types we
            # do not read (strings, server ids) are skipped.
            datum = _DATUM.fullmatch(word)
            if datum is not None:
                data[datum["name"]] = int(datum["value"])
        yield Entry(match["key"], data)


def parse_reasons(text: str) -> dict[str, int]:
    """Counts per reason from `show table sr_<id>` (key 0, gpc0..gpcN); absent = 0."""
    counts = dict.fromkeys(REJECTION_REASONS, 0)
    for entry in parse_entries(text.splitlines()):
        for index, reason in enumerate(REJECTION_REASONS):
            counts[reason] += entry.data.get(f"gpc{index}", 0)
    return counts


@dataclass(frozen=True)
class Configured:
    """What the config in force says about one protected listener."""

    limits: dict[str, int]  # metric -> limit, from the frontend's limit ACLs
    periods_s: dict[str, int]  # conn_rate / http_req_rate -> period, from its source table


def configured(cfg: str) -> dict[str, Configured]:
    """Per listener id, the limits and rate periods the renderer wrote into `cfg`."""
    found: dict[str, Configured] = {}
    section: tuple[str, str] | None = None
    for raw in cfg.splitlines():
        line = raw.strip()
        if not raw.startswith((" ", "\t")):
            header = _SECTION.fullmatch(line)
            kind = "frontend" if header and header["frontend"] else "table"
            section = (kind, header["id"].lower()) if header else None
            continue
        if section is None:
            continue
        listener = found.setdefault(section[1], Configured({}, {}))
        limit = _LIMIT.fullmatch(line)
        if section[0] == "frontend" and limit:
            listener.limits[limit["metric"]] = int(limit["n"])
        if section[0] == "table" and line.startswith("stick-table "):
            for rate, period in _PERIOD.findall(line):
                listener.periods_s[rate] = int(period)
    return found


def address(key: str) -> str:
    """Keys of `type ipv6` tables hold IPv4 sources as ::ffff:a.b.c.d: show those as IPv4."""
    try:
        parsed = ipaddress.ip_address(key)
    except ValueError:
        return key
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(parsed)


class TopSources:
    """The `n` largest entries by each metric, fed one entry at a time (bounded memory)."""

    def __init__(self, n: int = TOP) -> None:
        self.n = n
        self._heaps: dict[str, list[tuple[int, str, Entry]]] = {m: [] for m in METRICS}

    def add(self, entry: Entry) -> None:
        for metric, heap in self._heaps.items():
            value = entry.data.get(metric)
            if not value:
                continue  # not stored, or 0: nobody is "top" for doing nothing
            item = (value, entry.key, entry)
            if len(heap) < self.n:
                heapq.heappush(heap, item)
            elif item[:2] > heap[0][:2]:
                heapq.heapreplace(heap, item)

    def result(self) -> list[SourceStats]:
        chosen = {item[1]: item[2] for heap in self._heaps.values() for item in heap}
        rows = [
            SourceStats(
                address=address(entry.key),
                conn_cur=entry.data.get("conn_cur", 0),
                conn_rate=entry.data.get("conn_rate", 0),
                http_req_rate=entry.data.get("http_req_rate"),
            )
            for entry in chosen.values()
        ]
        rows.sort(key=lambda r: (-(r.http_req_rate or 0), -r.conn_rate, -r.conn_cur, r.address))
        return rows


def read_protection_stats(
    runtime: RuntimeApi, cfg: str, full_scan_limit: int = FULL_SCAN_LIMIT
) -> ProtectionStats:
    """Everything the endpoint answers, for the HAProxy behind `runtime` running `cfg`."""
    started = time.perf_counter()
    tables = parse_tables(runtime.command("show table"))
    settings = configured(cfg)
    errors = {
        row.pxname.lower(): row.ereq for row in runtime.show_stat() if row.svname == "FRONTEND"
    }
    listeners = []
    for listener_id in sorted({table.listener_id for table in tables}):
        mine = {table.kind: table for table in tables if table.listener_id == listener_id}
        config = settings.get(listener_id, Configured({}, {}))
        rejected = dict.fromkeys(REJECTION_REASONS, 0)
        if "sr" in mine:
            rejected = parse_reasons(runtime.command(f"show table sr_{listener_id}"))
        sources = mine.get("st")
        top: list[SourceStats] = []
        over_limit_only = False
        if sources is not None:
            top, over_limit_only = _top_sources(runtime, sources, config.limits, full_scan_limit)
        listeners.append(
            ListenerProtection(
                listener_id=listener_id,
                rejected=rejected,
                request_errors=errors.get(listener_id, 0),
                tracked_sources=sources.used if sources else 0,
                table_size=sources.size if sources else 0,
                conn_rate_period_s=config.periods_s.get("conn_rate"),
                req_rate_period_s=config.periods_s.get("http_req_rate"),
                top_sources=top,
                top_sources_over_limit_only=over_limit_only,
            )
        )
    duration_ms = (time.perf_counter() - started) * 1000
    return ProtectionStats(listeners=listeners, duration_ms=round(duration_ms, 3))


def _top_sources(
    runtime: RuntimeApi, table: TableInfo, limits: dict[str, int], full_scan_limit: int
) -> tuple[list[SourceStats], bool]:
    """The busiest sources, and whether only sources over a limit were looked at."""
    name = f"st_{table.listener_id}"
    if table.used == 0:
        return [], False
    if table.used <= full_scan_limit:
        commands, over_limit_only = [f"show table {name}"], False
    else:
        commands = [f"show table {name} data.{m} gt {n}" for m, n in sorted(limits.items())]
        over_limit_only = True
    top = TopSources()
    for command in commands:
        for entry in parse_entries(stream_lines(runtime, command)):
            top.add(entry)
    return top.result(), over_limit_only


def stream_lines(runtime: RuntimeApi, command: str) -> Iterator[str]:
    """The answer to one command, line by line as it arrives (a dump can be 100 MB)."""
    if "\n" in command or "\r" in command or ";" in command:
        raise ValueError(f"one plain command expected, got {command!r}")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(runtime.timeout)
            sock.connect(str(runtime.stats_socket))
            sock.sendall(command.encode() + b"\n")
            sock.shutdown(socket.SHUT_WR)
            with sock.makefile("rb") as answer:
                for raw in answer:
                    yield raw.decode(errors="replace")
    except OSError as exc:
        raise RuntimeApiError(f"stats socket {runtime.stats_socket}: {exc}") from exc
