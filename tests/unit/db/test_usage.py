"""Usage accrual: seconds split over hours, bytes from the listener counters, repeatable across
restarts, deleted load balancers' last seconds and bytes, and the report per project."""

from datetime import datetime, timedelta

from sqlalchemy import update

from steelyard.db import models as m
from steelyard.db.usage import accrue_usage, close_usage, split_hours, usage_report
from steelyard.telemetry.usage import UsageAccrual
from tests.unit.dbrows import T0, Sessions, add_lb

H = timedelta(hours=1)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def records(sessions: Sessions, lb_id: str) -> dict[int, tuple[int, int, int]]:
    """(seconds, bytes in, bytes out) per hour after T0."""
    with sessions() as s:
        rows = s.query(m.UsageRecord).filter(m.UsageRecord.loadbalancer_id == lb_id)
        return {int((r.hour - T0) / H): (r.seconds, r.bytes_in, r.bytes_out) for r in rows}


def set_bytes(sessions: Sessions, lb_id: str, bytes_in: int, bytes_out: int) -> None:
    with sessions() as s:
        row = s.get(m.ListenerStats, "l-" + lb_id[:30])
        if row is None:
            row = m.ListenerStats(
                listener_id="l-" + lb_id[:30], loadbalancer_id=lb_id, updated_at=T0
            )
            s.add(row)
        row.bytes_in, row.bytes_out = bytes_in, bytes_out
        s.commit()


def accrue(sessions: Sessions, now: datetime) -> None:
    UsageAccrual(sessions, lambda: now).accrue()  # a fresh one each time: as after a restart


def test_split_hours_cuts_at_hour_boundaries() -> None:
    assert split_hours(at(0.5), at(2.25)) == [(at(0), 1800), (at(1), 3600), (at(2), 900)]
    assert split_hours(at(1), at(1)) == []
    assert split_hours(at(1), at(2)) == [(at(1), 3600)]


def test_seconds_and_bytes_accrue_once_whatever_the_restarts(sessions: Sessions) -> None:
    lb = add_lb(sessions)  # created at T0
    set_bytes(sessions, lb, 100, 1000)
    accrue(sessions, at(1.25))
    accrue(sessions, at(1.25))  # again, as a restarted server would: nothing new
    assert records(sessions, lb) == {0: (3600, 0, 0), 1: (900, 100, 1000)}
    set_bytes(sessions, lb, 150, 1600)
    accrue(sessions, at(1.5))
    assert records(sessions, lb) == {0: (3600, 0, 0), 1: (1800, 150, 1600)}


def test_counters_that_shrink_count_from_zero(sessions: Sessions) -> None:
    lb = add_lb(sessions)
    set_bytes(sessions, lb, 500, 500)
    accrue(sessions, at(0.5))
    set_bytes(sessions, lb, 20, 30)  # a listener (and its counters) removed meanwhile
    accrue(sessions, at(0.75))
    assert records(sessions, lb) == {0: (2700, 520, 530)}


def test_a_deleted_load_balancer_is_billed_up_to_its_delete_request(sessions: Sessions) -> None:
    lb = add_lb(sessions)
    accrue(sessions, at(0.5))
    with sessions() as s:
        s.execute(
            update(m.LoadBalancer)
            .where(m.LoadBalancer.id == lb)
            .values(deleting=True, updated_at=at(1.25))
        )
        s.commit()
    set_bytes(sessions, lb, 70, 80)
    accrue(sessions, at(2))  # teardown still going
    assert records(sessions, lb) == {0: (3600, 0, 0), 1: (900, 70, 80)}
    set_bytes(sessions, lb, 75, 90)  # the last bytes before the appliance went
    with sessions() as s:
        close_usage(s, lb)
        s.query(m.ListenerStats).delete()
        s.query(m.LoadBalancer).filter(m.LoadBalancer.id == lb).delete()
        s.commit()
    accrue(sessions, at(3))
    assert records(sessions, lb) == {0: (3600, 0, 0), 1: (900, 75, 90)}
    with sessions() as s:
        assert s.query(m.UsageMeter).count() == 0


def test_a_load_balancer_gone_before_any_accrual_still_counts(sessions: Sessions) -> None:
    lb = add_lb(sessions)
    set_bytes(sessions, lb, 5, 6)
    with sessions() as s:
        s.execute(update(m.LoadBalancer).values(deleting=True, updated_at=at(0.25)))
        close_usage(s, lb)
        s.commit()
    assert records(sessions, lb) == {0: (900, 5, 6)}


def test_the_report_sums_per_project_and_load_balancer(sessions: Sessions) -> None:
    first, second, other = add_lb(sessions), add_lb(sessions), add_lb(sessions)
    with sessions() as s:
        s.execute(update(m.LoadBalancer).where(m.LoadBalancer.id == other).values(project_id="p2"))
        s.commit()
    set_bytes(sessions, first, 10, 20)
    accrue(sessions, at(2))
    with sessions() as s:
        assert accrue_usage(s, at(2)) == 3
        report = usage_report(s, at(1), at(2), None)
        only = usage_report(s, at(0), at(3), "p2")
    assert [p.project_id for p in report.projects] == ["p1", "p2"]
    p1 = report.projects[0]
    assert (p1.loadbalancer_hours, p1.bytes_in, p1.bytes_out) == (2.0, 10, 20)
    assert {lb.loadbalancer_id for lb in p1.loadbalancers} == {first, second}
    assert [(p.project_id, p.loadbalancer_hours) for p in only.projects] == [("p2", 2.0)]
