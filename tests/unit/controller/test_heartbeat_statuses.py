"""HeartbeatStatuses: heartbeat rows into operating statuses and listener counters."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from steelyard.controller.observer import HeartbeatStatuses, status_source
from steelyard.db import models as m
from steelyard.model.heartbeat import ApplianceReport, Heartbeat, ProxyRow, StatTable
from tests.unit.dbrows import T0, Sessions, add_lb


class Lb:
    def __init__(self, sessions: Sessions) -> None:
        self.id = add_lb(sessions, desired=2, applied=2)
        self.listener, self.pool = str(uuid.uuid4()), str(uuid.uuid4())
        self.members = [str(uuid.uuid4()), str(uuid.uuid4())]
        common = {"project_id": "p1", "provisioning_status": "ACTIVE", "created_at": T0}
        with sessions() as s:
            s.add(
                m.Pool(
                    id=self.pool,
                    loadbalancer_id=self.id,
                    protocol="HTTP",
                    lb_algorithm="ROUND_ROBIN",
                    operating_status="OFFLINE",
                    **common,
                )
            )
            s.flush()  # no relationships: SQLAlchemy does not order the inserts by itself
            s.add(
                m.Listener(
                    id=self.listener,
                    loadbalancer_id=self.id,
                    protocol="HTTP",
                    protocol_port=80,
                    default_pool_id=self.pool,
                    operating_status="OFFLINE",
                    **common,
                )
            )
            for index, member in enumerate(self.members):
                s.add(
                    m.Member(
                        id=member,
                        pool_id=self.pool,
                        address=f"198.18.0.{10 + index}",
                        protocol_port=8080,
                        operating_status="OFFLINE",
                        **common,
                    )
                )
            s.commit()

    def rows(self, member_status: str = "no check", stot: int = 10, scur: int = 1) -> StatTable:
        return StatTable.from_rows(
            [
                ProxyRow(self.listener, "FRONTEND", "OPEN", scur=scur, stot=stot, bin=stot * 10),
                *(ProxyRow(self.pool, member, member_status, 1) for member in self.members),
                ProxyRow(self.pool, "BACKEND", "UP", 2),
            ]
        )


def heartbeat(name: str, stats: StatTable, vrrp: str | None = None, **changes: object) -> Heartbeat:
    fields: dict[str, object] = {
        "appliance": name,
        "seq": 1,
        "sent_at": 1.0,
        "generation": 2,
        "config_sha256": None,
        "haproxy_running": True,
        "vrrp_state": vrrp,
        "stats": stats,
    }
    fields.update(changes)
    return Heartbeat(**fields)  # type: ignore[arg-type]


def write(
    sessions: Sessions, writer: HeartbeatStatuses, lb: Lb, heartbeats: Sequence[Heartbeat]
) -> None:
    writer([ApplianceReport(lb.id, hb) for hb in heartbeats], T0)


def statuses(s: Session, lb: Lb) -> tuple[str, str, str, list[str]]:
    return (
        s.get_one(m.LoadBalancer, lb.id).operating_status,
        s.get_one(m.Listener, lb.listener).operating_status,
        s.get_one(m.Pool, lb.pool).operating_status,
        [s.get_one(m.Member, member).operating_status for member in lb.members],
    )


def counters(sessions: Sessions, lb: Lb) -> tuple[int, int, int]:
    with sessions() as s:
        row = s.get_one(m.ListenerStats, lb.listener)
        return row.total_connections, row.bytes_in, row.active_connections


def test_rows_become_statuses_and_counters(sessions: Sessions) -> None:
    lb = Lb(sessions)
    write(sessions, HeartbeatStatuses(sessions, sessions), lb, [heartbeat("a-0", lb.rows())])
    with sessions() as s:
        assert statuses(s, lb) == ("ONLINE", "ONLINE", "ONLINE", ["NO_MONITOR", "NO_MONITOR"])
    assert counters(sessions, lb) == (10, 100, 1)


def test_counters_add_up_over_appliances_and_survive_a_reload(sessions: Sessions) -> None:
    lb, writer = Lb(sessions), HeartbeatStatuses(sessions, sessions, counters_every_s=0)
    write(sessions, writer, lb, [heartbeat("a-0", lb.rows(stot=10, scur=2))])
    write(sessions, writer, lb, [heartbeat("a-1", lb.rows(stot=5, scur=3))])
    assert counters(sessions, lb) == (15, 150, 5)
    write(sessions, writer, lb, [heartbeat("a-0", lb.rows(stot=12, scur=1))])
    assert counters(sessions, lb) == (17, 170, 4)
    # a-0 reloaded: its counters restarted at zero, and count from there
    write(sessions, writer, lb, [heartbeat("a-0", lb.rows(stot=3, scur=0))])
    assert counters(sessions, lb) == (20, 200, 3)


def test_counters_are_written_at_most_every_few_seconds_and_nothing_is_lost(
    sessions: Sessions,
) -> None:
    lb = Lb(sessions)
    now = [0.0]
    writer = HeartbeatStatuses(sessions, sessions, counters_every_s=5, clock=lambda: now[0])
    write(sessions, writer, lb, [heartbeat("a-0", lb.rows(stot=10))])
    assert counters(sessions, lb)[0] == 10
    for second, stot in [(1, 20), (2, 25), (4.9, 40)]:
        now[0] = second
        write(sessions, writer, lb, [heartbeat("a-0", lb.rows(stot=stot, scur=7))])
    assert counters(sessions, lb) == (10, 100, 1)  # held back
    now[0] = 5.0
    write(sessions, writer, lb, [heartbeat("a-0", lb.rows(stot=41, scur=2))])
    assert counters(sessions, lb) == (41, 410, 2)


def test_open_connections_of_an_appliance_not_heard_of_are_forgotten(sessions: Sessions) -> None:
    lb = Lb(sessions)
    now = [0.0]
    writer = HeartbeatStatuses(sessions, sessions, clock=lambda: now[0])
    write(sessions, writer, lb, [heartbeat("a-0", lb.rows(scur=4)), heartbeat("a-1", lb.rows())])
    assert counters(sessions, lb)[2] == 5
    now[0] = 11.0
    write(sessions, writer, lb, [heartbeat("a-1", lb.rows(scur=2, stot=11))])
    assert counters(sessions, lb)[2] == 2


def test_only_the_masters_rows_set_statuses(sessions: Sessions) -> None:
    lb, writer = Lb(sessions), HeartbeatStatuses(sessions, sessions)
    master = heartbeat("a-1", lb.rows("UP"), vrrp="MASTER")
    backup = heartbeat("a-0", lb.rows("DOWN"), vrrp="BACKUP")
    assert status_source([backup, master]) is master
    assert status_source([backup]) is None
    write(sessions, writer, lb, [backup])
    with sessions() as s:
        assert statuses(s, lb)[3] == ["OFFLINE", "OFFLINE"]  # untouched
    write(sessions, writer, lb, [backup, master])
    with sessions() as s:
        assert statuses(s, lb)[3] == ["NO_MONITOR", "NO_MONITOR"]


def test_without_keepalived_the_first_by_name_speaks() -> None:
    stats = StatTable()
    a, b = heartbeat("b-0", stats), heartbeat("a-0", stats)
    assert status_source([a, b]) is b
    assert status_source([heartbeat("a-0", stats, truncated=True)]) is None
    assert status_source([heartbeat("a-0", stats, haproxy_running=False)]) is None


def test_statuses_are_recomputed_only_when_rows_change(sessions: Sessions) -> None:
    lb = Lb(sessions)
    now = [0.0]
    writer = HeartbeatStatuses(sessions, sessions, refresh_s=10, clock=lambda: now[0])
    write(sessions, writer, lb, [heartbeat("a-0", lb.rows())])
    with sessions() as s:
        s.get_one(m.Member, lb.members[0]).operating_status = "ERROR"  # as if from elsewhere
        s.commit()
    write(sessions, writer, lb, [heartbeat("a-0", lb.rows(stot=20))])  # only counters moved
    with sessions() as s:
        assert statuses(s, lb)[3][0] == "ERROR"
    now[0] = 11.0
    write(sessions, writer, lb, [heartbeat("a-0", lb.rows(stot=30))])  # refresh is due
    with sessions() as s:
        assert statuses(s, lb)[3][0] == "NO_MONITOR"
    write(sessions, writer, lb, [heartbeat("a-0", lb.rows("MAINT"))])  # rows changed
    with sessions() as s:
        assert statuses(s, lb)[3] == ["OFFLINE", "OFFLINE"]


def test_listeners_that_are_not_in_the_database_are_skipped(sessions: Sessions) -> None:
    lb = Lb(sessions)
    stranger = StatTable.from_rows([ProxyRow("stats", "FRONTEND", "OPEN", stot=3)])
    write(sessions, HeartbeatStatuses(sessions, sessions), lb, [heartbeat("a-0", stranger)])
    with sessions() as s:
        assert s.get(m.ListenerStats, "stats") is None


def add_appliances(sessions: Sessions, lb: Lb, *names: str) -> dict[str, str]:
    ids = {name: str(uuid.uuid4()) for name in names}
    with sessions() as s:
        for name, ident in ids.items():
            s.add(
                m.Appliance(
                    id=ident, loadbalancer_id=lb.id, name=name, status="ALLOCATED",
                    compute_driver="process", host="h", vip_address="198.18.0.5", created_at=T0,
                )
            )  # fmt: skip
        s.commit()
    return ids


def http_rows(lb: Lb, served: int, not_found: int, scur: int = 0) -> StatTable:
    """Every row of an HTTP load balancer whose first member answered `served` 200s and
    `not_found` 404s (the second member nothing yet)."""
    requests = served + not_found
    classes: dict[str, Any] = {"hrsp_2xx": served, "hrsp_4xx": not_found, "req_tot": requests}
    first, second = lb.members
    return StatTable.from_rows(
        [
            ProxyRow(lb.listener, "FRONTEND", "OPEN", None, scur, requests, 100 * requests,
                     1000 * requests, ereq=1, **classes),
            ProxyRow(lb.pool, first, "UP", 1, scur, requests, 90 * requests, 900 * requests,
                     econ=2, eresp=3, **classes),
            ProxyRow(lb.pool, second, "UP", 1),
            ProxyRow(lb.pool, "BACKEND", "UP", 2, scur, requests, 90 * requests,
                     900 * requests, **classes),
        ]
    )  # fmt: skip


def test_pools_members_and_appliances_count_every_status_class(sessions: Sessions) -> None:
    lb = Lb(sessions)
    ids = add_appliances(sessions, lb, "a-0", "a-1")
    writer = HeartbeatStatuses(sessions, sessions, counters_every_s=0)
    write(sessions, writer, lb, [heartbeat("a-0", http_rows(lb, 5, 2, scur=1))])
    write(sessions, writer, lb, [heartbeat("a-1", http_rows(lb, 3, 0, scur=2))])
    # a-0 reloads (counters restart) and serves 4 more
    write(sessions, writer, lb, [heartbeat("a-0", http_rows(lb, 4, 0))])
    with sessions() as s:
        listener = s.get_one(m.ListenerStats, lb.listener)
        assert (listener.hrsp_2xx, listener.hrsp_4xx, listener.requests) == (12, 2, 14)
        assert (listener.total_connections, listener.bytes_in, listener.request_errors) == (
            14, 1400, 3,
        )  # fmt: skip
        assert listener.active_connections == 2  # a-0 has none open now, a-1 two
        pool = s.get_one(m.PoolStats, lb.pool)
        assert (pool.hrsp_2xx, pool.hrsp_4xx, pool.bytes_out, pool.loadbalancer_id) == (
            12, 2, 12600, lb.id,
        )  # fmt: skip
        first = s.get_one(m.MemberStats, lb.members[0])
        assert (first.hrsp_2xx, first.hrsp_4xx, first.pool_id) == (12, 2, lb.pool)
        assert (first.connection_errors, first.response_errors) == (6, 9)
        assert s.get_one(m.MemberStats, lb.members[1]).total_connections == 0
        per_appliance = {
            row.appliance_id: (row.total_connections, row.hrsp_2xx, row.active_connections)
            for row in s.query(m.ApplianceListenerStats)
        }
        assert per_appliance == {ids["a-0"]: (11, 9, 0), ids["a-1"]: (3, 3, 2)}


def test_a_truncated_heartbeat_leaves_member_counters_for_the_next(sessions: Sessions) -> None:
    lb = Lb(sessions)
    writer = HeartbeatStatuses(sessions, sessions, counters_every_s=0)
    write(sessions, writer, lb, [heartbeat("a-0", http_rows(lb, 5, 0))])
    summary = http_rows(lb, 8, 0).summary()
    write(sessions, writer, lb, [heartbeat("a-0", summary, truncated=True)])
    write(sessions, writer, lb, [heartbeat("a-0", http_rows(lb, 9, 0))])
    with sessions() as s:
        assert s.get_one(m.MemberStats, lb.members[0]).hrsp_2xx == 9  # not 5 + 9
        assert s.get_one(m.PoolStats, lb.pool).hrsp_2xx == 9


def test_counters_of_deleted_objects_are_dropped(sessions: Sessions) -> None:
    lb = Lb(sessions)
    with sessions() as s:
        s.query(m.Member).filter(m.Member.id == lb.members[0]).delete()
        s.commit()
    write(
        sessions, HeartbeatStatuses(sessions, sessions), lb, [heartbeat("a-9", http_rows(lb, 1, 0))]
    )
    with sessions() as s:
        assert s.get(m.MemberStats, lb.members[0]) is None
        assert s.get_one(m.MemberStats, lb.members[1]).hrsp_2xx == 0
        assert s.query(m.ApplianceListenerStats).count() == 0  # a-9 is no appliance of ours


def test_a_restarted_writer_does_not_count_an_appliances_history_twice(
    sessions: Sessions,
) -> None:
    lb = Lb(sessions)
    add_appliances(sessions, lb, "a-0")
    write(
        sessions, HeartbeatStatuses(sessions, sessions), lb, [heartbeat("a-0", http_rows(lb, 5, 1))]
    )
    restarted = HeartbeatStatuses(sessions, sessions, counters_every_s=0)
    write(sessions, restarted, lb, [heartbeat("a-0", http_rows(lb, 5, 1))])  # a baseline now
    write(sessions, restarted, lb, [heartbeat("a-0", http_rows(lb, 8, 1))])
    with sessions() as s:
        assert s.get_one(m.ListenerStats, lb.listener).hrsp_2xx == 8
        assert s.get_one(m.MemberStats, lb.members[0]).hrsp_4xx == 1
