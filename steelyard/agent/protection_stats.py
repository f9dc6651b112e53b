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
  sources over that limit: the offenders, which is what a report of an attack needs;
- scans are remembered for `SCAN_INTERVAL_S` and skipped for limits that refused nothing
  (`ProtectionReader`), so a caller polling every second costs HAProxy next to nothing.
Answers are parsed as they stream in and only the top entries are kept, so memory stays small
whatever the table holds.
"""

import heapq
import ipaddress
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from steelyard.agent.contract import (
    REJECTION_REASONS,
    ListenerProtection,
    ProtectionStats,
    SourceStats,
)
from steelyard.agent.runtime_api import RuntimeApi, RuntimeApiError

FULL_SCAN_LIMIT = 10_000
SCAN_INTERVAL_S = 10.0
FRESH_S = 2.0  # while refusals grow, the source list is at most this old
TOP = 10
METRICS = ("http_req_rate", "conn_rate", "conn_cur")
# The rejection reason each limited metric is counted under (see render/protection.py).
_REASON_OF = {"http_req_rate": "req_rate", "conn_rate": "conn_rate", "conn_cur": "max_conn"}
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


@dataclass(frozen=True)
class _Scan:
    at: float
    commands: tuple[str, ...]
    refused: int  # the listener's refusals when it was scanned
    top: list[SourceStats]


class ProtectionReader:
    """Reads the protection tables, remembering each listener's last source scan.

    The status observer asks every few seconds; on a large table each scan stalls HAProxy (see
    the module docstring), so a listener's sources are scanned at most once per
    `scan_interval_s` (the answer says how old its list is), and a limit that has refused
    nothing since HAProxy loaded its config is not scanned at all: a source over a limit is
    refused, and counted, the moment it goes over, so such a scan can only come back empty.
    Counts and tracked sources are read fresh every time; they cost nothing.
    """

    def __init__(
        self,
        *,
        full_scan_limit: int = FULL_SCAN_LIMIT,
        scan_interval_s: float = SCAN_INTERVAL_S,
        fresh_s: float = FRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.full_scan_limit = full_scan_limit
        self.scan_interval_s = scan_interval_s
        self.fresh_s = fresh_s
        self._clock = clock
        self._scans: dict[tuple[str, str], _Scan] = {}
        self._lock = threading.Lock()

    def read(self, runtime: RuntimeApi, cfg: str) -> ProtectionStats:
        """Everything the endpoint answers, for the HAProxy behind `runtime` running `cfg`."""
        started = time.perf_counter()
        tables = parse_tables(runtime.command("show table"))
        settings = configured(cfg)
        stat = runtime.show_stat()
        errors = {row.pxname.lower(): row.ereq for row in stat if row.svname == "FRONTEND"}
        listeners = []
        for listener_id in sorted({table.listener_id for table in tables}):
            mine = {table.kind: table for table in tables if table.listener_id == listener_id}
            config = settings.get(listener_id, Configured({}, {}))
            rejected = dict.fromkeys(REJECTION_REASONS, 0)
            if "sr" in mine:
                rejected = parse_reasons(runtime.command(f"show table sr_{listener_id}"))
            sources = mine.get("st")
            commands = self._commands(sources, config.limits, rejected) if sources else ()
            top, age = self._top(runtime, listener_id, commands, sum(rejected.values()))
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
                    top_sources_over_limit_only=sources is not None
                    and sources.used > self.full_scan_limit,
                    top_sources_age_s=round(age, 3),
                )
            )
        duration_ms = (time.perf_counter() - started) * 1000
        return ProtectionStats(listeners=listeners, duration_ms=round(duration_ms, 3))

    def _commands(
        self, table: TableInfo, limits: dict[str, int], rejected: dict[str, int]
    ) -> tuple[str, ...]:
        """The `show table` commands that find the busiest sources ((): nothing to find)."""
        name = f"st_{table.listener_id}"
        if table.used == 0:
            return ()
        if table.used <= self.full_scan_limit:
            return (f"show table {name}",)
        return tuple(
            f"show table {name} data.{metric} gt {limit}"
            for metric, limit in sorted(limits.items())
            if rejected.get(_REASON_OF[metric], 0) > 0
        )

    def _top(
        self, runtime: RuntimeApi, listener_id: str, commands: tuple[str, ...], refused: int
    ) -> tuple[list[SourceStats], float]:
        """The top sources and their age in seconds: cached, or scanned now. New refusals make
        a cached list stale after `fresh_s`: an attack must be reported with its own sources,
        not with those seen before it began (a breach event names them)."""
        if not commands:
            return [], 0.0
        key = (str(runtime.stats_socket), listener_id)
        now = self._clock()
        with self._lock:
            cached = self._scans.get(key)
        if cached is not None and cached.commands == commands:
            age = now - cached.at
            quiet = refused == cached.refused
            if age < self.fresh_s or (quiet and age < self.scan_interval_s):
                return cached.top, age
        top = TopSources()
        for command in commands:
            for entry in parse_entries(stream_lines(runtime, command)):
                top.add(entry)
        scan = _Scan(now, commands, refused, top.result())
        with self._lock:
            # Forget listeners not read for a long time (deleted appliances, old configs).
            stale = [k for k, v in self._scans.items() if now - v.at > 10 * self.scan_interval_s]
            for old in stale:
                del self._scans[old]
            self._scans[key] = scan
        return scan.top, 0.0


def read_protection_stats(
    runtime: RuntimeApi, cfg: str, full_scan_limit: int = FULL_SCAN_LIMIT
) -> ProtectionStats:
    """One read without memory (every scan is done now)."""
    return ProtectionReader(full_scan_limit=full_scan_limit).read(runtime, cfg)


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
