"""Reading the protection tables: parsers on `show table` output captured from HAProxy 2.6.12
(a config rendered by render/protection.py), and the scan strategy against a fake socket."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from steelyard.agent.contract import REJECTION_REASONS
from steelyard.agent.protection_stats import (
    Entry,
    ProtectionReader,
    TopSources,
    address,
    configured,
    parse_entries,
    parse_reasons,
    parse_tables,
    read_protection_stats,
)
from steelyard.agent.runtime_api import RuntimeApi, RuntimeApiError
from tests.unit.agent.test_runtime_api import SHOW_STAT, FakeStatsSocket
from tests.unit.render.test_haproxy_golden import GOLDEN_DIR

A1 = "a0000000-0000-4000-8000-0000000000a1"
A3 = "a0000000-0000-4000-8000-0000000000a3"
A4 = "a0000000-0000-4000-8000-0000000000a4"
# Captured with `show table`, `show table <name>` on a running HAProxy 2.6.12.
SHOW_TABLES = (
    f"# table: sr_{A1}, type: integer, size:1, used:1\n"
    f"# table: st_{A1}, type: ip, size:1000000, used:3\n"
    "# table: sr_a0000000-0000-4000-8000-0000000000a5, type: integer, size:1, used:0\n"
    "# table: st_a0000000-0000-4000-8000-0000000000a5, type: ipv6, size:1000000, used:0\n"
    f"# table: sr_{A3}, type: integer, size:1, used:0\n"
    f"# table: st_{A3}, type: ip, size:1000000, used:1\n"
    f"# table: st_{A4}, type: ipv6, size:1000000, used:2\n"
    "# table: b0000000-0000-4000-8000-000000000001, type: ip, size:10240, used:0\n"
    "\n"
)
ST_A1 = (
    f"# table: st_{A1}, type: ip, size:1000000, used:3\n"
    "0x562524f24c10: key=127.0.0.2 use=0 exp=29989 conn_rate(10000)=7 conn_cur=0 "
    "http_req_rate(30000)=7\n"
    "0x562524f250a0: key=127.0.0.3 use=0 exp=29991 conn_rate(10000)=1 conn_cur=0 "
    "http_req_rate(30000)=1\n"
    "0x562524f29bb0: key=127.0.0.8 use=1 exp=29992 conn_rate(10000)=1 conn_cur=1 "
    "http_req_rate(30000)=1\n"
    "\n"
)
SR_A1 = (
    f"# table: sr_{A1}, type: integer, size:1, used:1\n"
    "0x562524f24f78: key=0 use=0 exp=0 gpc0=0 gpc1=0 gpc2=0 gpc3=2 gpc4=1 gpc5=0\n"
    "\n"
)
SR_A3_EMPTY = f"# table: sr_{A3}, type: integer, size:1, used:0\n\n"
ST_A3 = (
    f"# table: st_{A3}, type: ip, size:1000000, used:1\n"
    "0x562524f24cd0: key=127.0.0.2 use=0 exp=29996 conn_rate(30000)=2 conn_cur=0\n"
    "\n"
)
ST_A4 = (
    f"# table: st_{A4}, type: ipv6, size:1000000, used:2\n"
    "0x562524f258e0: key=::ffff:203.0.113.7 use=0 exp=29999 conn_rate(10000)=1 conn_cur=0 "
    "http_req_rate(30000)=1\n"
    "0x562524f24b40: key=2001:db8::7 use=0 exp=29998 conn_rate(10000)=1 conn_cur=0 "
    "http_req_rate(30000)=4\n"
    "\n"
)
NO_SUCH_TABLE = "No such table\n\n"
CFG = f"""frontend {A1}
    mode http
    acl sy_max_conn sc0_conn_cur gt 3
    acl sy_req_rate sc0_http_req_rate gt 5
frontend {A3}
    mode tcp
    acl sy_conn_rate sc0_conn_rate gt 3
backend st_{A1}
    stick-table type ip size 1000000 expire 30s store conn_cur,conn_rate(10s),http_req_rate(30s)
backend st_{A3}
    stick-table type ip size 1000000 expire 30s store conn_cur,conn_rate(30s)
"""


def test_tables_are_listed_by_listener() -> None:
    tables = parse_tables(SHOW_TABLES)
    assert [(t.kind, t.listener_id[-2:], t.type, t.used) for t in tables] == [
        ("sr", "a1", "integer", 1),
        ("st", "a1", "ip", 3),
        ("sr", "a5", "integer", 0),
        ("st", "a5", "ipv6", 0),
        ("sr", "a3", "integer", 0),
        ("st", "a3", "ip", 1),
        ("st", "a4", "ipv6", 2),
    ]  # the pool's persistence table is not ours
    assert tables[1].size == 1_000_000


def test_entries_of_ip_and_ipv6_tables() -> None:
    first = next(parse_entries(ST_A1.splitlines()))
    assert first == Entry("127.0.0.2", {"conn_rate": 7, "conn_cur": 0, "http_req_rate": 7})
    keys = [address(entry.key) for entry in parse_entries(ST_A4.splitlines())]
    assert keys == ["203.0.113.7", "2001:db8::7"]
    assert [e.data for e in parse_entries(ST_A3.splitlines())] == [{"conn_rate": 2, "conn_cur": 0}]


def test_reasons_in_gpc_order() -> None:
    assert parse_reasons(SR_A1) == dict(zip(REJECTION_REASONS, [0, 0, 0, 2, 1, 0], strict=True))
    assert parse_reasons(SR_A3_EMPTY) == dict.fromkeys(REJECTION_REASONS, 0)


@pytest.mark.parametrize(
    "answer",
    [NO_SUCH_TABLE, "Unknown command.\n", "0x1: key=1.2.3.4 use=0\n", "Permission denied\n"],
)
def test_an_unexpected_answer_is_an_error_not_an_empty_table(answer: str) -> None:
    with pytest.raises(RuntimeApiError, match="unexpected 'show table' line"):
        list(parse_entries(answer.splitlines()))


def test_limits_and_periods_come_from_the_rendered_config() -> None:
    found = configured((GOLDEN_DIR / "protection_http_429.cfg").read_text())
    listener = found["a0000000-0000-4000-8000-000000000001"]
    assert listener.limits == {"conn_cur": 20, "conn_rate": 30, "http_req_rate": 100}
    assert listener.periods_s == {"conn_rate": 10, "http_req_rate": 10}
    tcp = configured((GOLDEN_DIR / "protection_proxy_protocol.cfg").read_text())
    assert tcp["a0000000-0000-4000-8000-000000000002"].limits == {"conn_rate": 50}
    # Pool backends (persistence tables) are not mistaken for source tables.
    persistence = configured((GOLDEN_DIR / "source_ip_persistence.cfg").read_text())
    assert all(not c.limits and not c.periods_s for c in persistence.values())


def test_top_sources_are_the_union_of_each_metric_top() -> None:
    top = TopSources(n=2)
    for i in range(50):
        data = {"conn_cur": i * 7 % 50, "conn_rate": 100 - i, "http_req_rate": i}
        top.add(Entry(f"10.0.0.{i}", data))
    rows = top.result()
    # http_req_rate: .49 .48; conn_rate: .0 .1; conn_cur: .7 (49) and .14 (48)
    assert {row.address for row in rows} == {f"10.0.0.{i}" for i in (49, 48, 0, 1, 7, 14)}
    assert [row.address for row in rows[:2]] == ["10.0.0.49", "10.0.0.48"]


def test_top_sources_without_request_rates() -> None:
    top = TopSources()
    for entry in parse_entries(ST_A3.splitlines()):
        top.add(entry)
    [row] = top.result()
    assert (row.address, row.conn_rate, row.http_req_rate) == ("127.0.0.2", 2, None)


@pytest.fixture
def fake(short_tmp: Path) -> Iterator[FakeStatsSocket]:
    stat = SHOW_STAT.replace("\nfe,FRONTEND,", f"\n{A1},FRONTEND,")
    answers = {
        "show table": SHOW_TABLES,
        "show stat": stat,
        f"show table st_{A1}": ST_A1,
        f"show table sr_{A1}": SR_A1,
        f"show table st_{A3}": ST_A3,
        f"show table sr_{A3}": SR_A3_EMPTY,
        f"show table st_{A4}": ST_A4,
        "show table sr_a0000000-0000-4000-8000-0000000000a5": "\n",
        "show table st_a0000000-0000-4000-8000-0000000000a5": "\n",
    }
    socket = FakeStatsSocket(short_tmp / "stats.sock", answers)
    yield socket
    socket.close()


def test_small_tables_are_dumped_whole(fake: FakeStatsSocket) -> None:
    stats = read_protection_stats(RuntimeApi(fake.path), CFG)
    listeners = {item.listener_id[-2:]: item for item in stats.listeners}
    assert list(listeners) == ["a1", "a3", "a4", "a5"]
    a1 = listeners["a1"]
    assert a1.rejected["req_rate"] == 2 and a1.rejected["header_size"] == 1
    assert a1.request_errors == 3  # the frontend's ereq
    assert (a1.tracked_sources, a1.table_size) == (3, 1_000_000)
    assert (a1.conn_rate_period_s, a1.req_rate_period_s) == (10, 30)
    assert [s.address for s in a1.top_sources] == ["127.0.0.2", "127.0.0.8", "127.0.0.3"]
    assert not a1.top_sources_over_limit_only
    assert listeners["a4"].top_sources[0].address == "2001:db8::7"
    assert listeners["a4"].rejected == dict.fromkeys(REJECTION_REASONS, 0)  # no sr_ table
    assert f"show table st_{A1}" in fake.received


def _scans(fake: FakeStatsSocket) -> list[str]:
    scans = [command for command in fake.received if command.startswith("show table st_")]
    fake.received.clear()
    return scans


def test_large_tables_are_scanned_for_offenders_only(fake: FakeStatsSocket) -> None:
    over = f"# table: st_{A1}, type: ip, size:1000000, used:3\n" + ST_A1.splitlines()[1] + "\n\n"
    fake.answers[f"show table st_{A1} data.conn_cur gt 3"] = over
    fake.answers[f"show table st_{A1} data.http_req_rate gt 5"] = over
    fake.answers[f"show table st_{A3} data.conn_rate gt 3"] = f"# table: st_{A3}\n\n"
    stats = read_protection_stats(RuntimeApi(fake.path), CFG, full_scan_limit=0)
    a1, a3, a4, _ = stats.listeners
    assert [s.address for s in a1.top_sources] == ["127.0.0.2"]
    assert a1.top_sources_over_limit_only and a1.tracked_sources == 3
    assert a3.top_sources == []
    assert a4.top_sources == []  # no limit configured: no scan at all
    # Only limits that refused something are scanned: A1 refused requests (req_rate 2), and
    # neither connections (max_conn 0) nor, on A3, anything at all.
    assert _scans(fake) == [f"show table st_{A1} data.http_req_rate gt 5"]
    fake.answers[f"show table sr_{A3}"] = SR_A1  # A3 now counts refusals too
    read_protection_stats(RuntimeApi(fake.path), CFG, full_scan_limit=0)
    assert f"show table st_{A3} data.conn_rate gt 3" not in _scans(fake)  # req_rate is not its
    fake.answers[f"show table sr_{A3}"] = SR_A1.replace("gpc2=0", "gpc2=4")
    read_protection_stats(RuntimeApi(fake.path), CFG, full_scan_limit=0)
    assert f"show table st_{A3} data.conn_rate gt 3" in _scans(fake)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_scans_are_remembered_for_the_interval(fake: FakeStatsSocket) -> None:
    clock = FakeClock()
    reader = ProtectionReader(scan_interval_s=10, clock=clock)
    first = reader.read(RuntimeApi(fake.path), CFG)
    assert len(_scans(fake)) == 3  # A1, A3, A4 dumped whole (A5 is empty)
    clock.now += 4
    again = {item.listener_id: item for item in reader.read(RuntimeApi(fake.path), CFG).listeners}
    assert _scans(fake) == []
    assert again[A1].top_sources == first.listeners[0].top_sources
    assert again[A1].top_sources_age_s == 4
    clock.now += 6
    fresh = reader.read(RuntimeApi(fake.path), CFG)
    assert len(_scans(fake)) == 3
    assert fresh.listeners[0].top_sources_age_s == 0


def test_new_refusals_make_a_remembered_scan_stale(fake: FakeStatsSocket) -> None:
    """An attack that starts after a scan must be reported with its own sources."""
    clock = FakeClock()
    reader = ProtectionReader(scan_interval_s=10, fresh_s=2, clock=clock)
    reader.read(RuntimeApi(fake.path), CFG)
    _scans(fake)
    fake.answers[f"show table sr_{A1}"] = SR_A1.replace("gpc3=2", "gpc3=900")
    clock.now += 1
    reader.read(RuntimeApi(fake.path), CFG)
    assert f"show table st_{A1}" not in _scans(fake)  # still fresh: at most one scan per 2 s
    clock.now += 1.5
    reader.read(RuntimeApi(fake.path), CFG)
    assert f"show table st_{A1}" in _scans(fake)  # refusals grew since the scan: rescanned
    clock.now += 3
    reader.read(RuntimeApi(fake.path), CFG)
    assert f"show table st_{A1}" not in _scans(fake)  # quiet since: the interval holds


def test_counts_are_always_fresh(fake: FakeStatsSocket) -> None:
    clock = FakeClock()
    reader = ProtectionReader(clock=clock)
    reader.read(RuntimeApi(fake.path), CFG)
    fake.answers[f"show table sr_{A1}"] = SR_A1.replace("gpc3=2", "gpc3=7")
    clock.now += 1
    listener = reader.read(RuntimeApi(fake.path), CFG).listeners[0]
    assert listener.rejected["req_rate"] == 7


def test_no_tables_no_listeners(fake: FakeStatsSocket) -> None:
    fake.answers["show table"] = "\n"
    assert read_protection_stats(RuntimeApi(fake.path), "").listeners == []


def test_a_vanished_table_is_an_error(fake: FakeStatsSocket) -> None:
    fake.answers[f"show table st_{A1}"] = NO_SUCH_TABLE
    with pytest.raises(RuntimeApiError):
        read_protection_stats(RuntimeApi(fake.path), CFG)


def test_unreachable_socket_is_an_error(short_tmp: Path) -> None:
    with pytest.raises(RuntimeApiError):
        read_protection_stats(RuntimeApi(short_tmp / "missing.sock"), CFG)
