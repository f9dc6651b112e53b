"""Usage for billing: per load balancer and hour, the seconds it existed and the bytes its
listeners moved (usage_records), accrued by telemetry.usage and read by the operator API.

Each load balancer has a meter (usage_meters): how far its time is accrued and its listeners'
byte counters as last seen. Every accrual moves the meter and adds the records in one
transaction, so a restart (or a crash between two accruals) neither loses nor repeats an hour.
A load balancer in deletion is accrued up to its delete request; when its teardown finishes,
`close_usage` accrues what is left and removes the meter (the records stay).
"""

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.model.usage import LoadBalancerUsage, ProjectUsage, UsageReport

HOUR = timedelta(hours=1)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def split_hours(start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """[start, end) cut at hour boundaries: (hour, seconds in it), oldest first."""
    pieces = []
    while start < end:
        cut = min(hour_of(start) + HOUR, end)
        pieces.append((hour_of(start), int((cut - start).total_seconds())))
        start = cut
    return pieces


def _gained(seen: int, now: int) -> int:
    """Byte counters only grow, unless a listener (with its counters) was removed."""
    return now if now < seen else now - seen


def _bytes_by_loadbalancer(
    session: Session, lb_id: str | None = None
) -> dict[str, tuple[int, int]]:
    s = m.ListenerStats
    query = select(s.loadbalancer_id, func.sum(s.bytes_in), func.sum(s.bytes_out)).group_by(
        s.loadbalancer_id
    )
    if lb_id is not None:
        query = query.where(s.loadbalancer_id == lb_id)
    return {lb: (int(bin_), int(bout)) for lb, bin_, bout in session.execute(query)}


def _accrue(
    session: Session, meter: m.UsageMeter, end: datetime, moved: tuple[int, int], now: datetime
) -> None:
    pieces = split_hours(meter.accrued_until, end)
    for hour, seconds in pieces:
        _record(session, meter, hour, now).seconds += seconds
    bytes_in = _gained(meter.bytes_in_seen, moved[0])
    bytes_out = _gained(meter.bytes_out_seen, moved[1])
    if bytes_in or bytes_out:
        # to the last hour accrued: the counters do not say when within the interval
        last = pieces[-1][0] if pieces else hour_of(meter.accrued_until - timedelta(seconds=1))
        record = _record(session, meter, last, now)
        record.bytes_in += bytes_in
        record.bytes_out += bytes_out
    meter.accrued_until = max(meter.accrued_until, end)
    meter.bytes_in_seen, meter.bytes_out_seen = moved


def _record(session: Session, meter: m.UsageMeter, hour: datetime, now: datetime) -> m.UsageRecord:
    record = session.get(m.UsageRecord, (meter.loadbalancer_id, hour))
    if record is None:
        record = m.UsageRecord(
            loadbalancer_id=meter.loadbalancer_id,
            hour=hour,
            project_id=meter.project_id,
            seconds=0,
            bytes_in=0,
            bytes_out=0,
            updated_at=now,
        )
        session.add(record)
    record.updated_at = now
    return record


def _meter(session: Session, lb: m.LoadBalancer) -> m.UsageMeter:
    meter = session.get(m.UsageMeter, lb.id, with_for_update=True)
    if meter is None:
        meter = m.UsageMeter(
            loadbalancer_id=lb.id,
            project_id=lb.project_id,
            accrued_until=whole_second(lb.created_at),
            bytes_in_seen=0,
            bytes_out_seen=0,
        )
        session.add(meter)
    return meter


def _end_of(lb: m.LoadBalancer, now: datetime) -> datetime:
    """Until when a load balancer is billed: now, or its delete request."""
    end = whole_second(now)
    if lb.deleting and lb.updated_at is not None:
        end = min(end, whole_second(lb.updated_at))
    return end


def accrue_usage(session: Session, now: datetime) -> int:
    """Accrue every load balancer up to `now`; returns how many were accrued. Meters whose load
    balancer vanished without `close_usage` (removed by hand) are dropped."""
    moved = _bytes_by_loadbalancer(session)
    live = set()
    for lb in session.scalars(select(m.LoadBalancer)):
        live.add(lb.id)
        _accrue(session, _meter(session, lb), _end_of(lb, now), moved.get(lb.id, (0, 0)), now)
    for meter in session.scalars(select(m.UsageMeter)):
        if meter.loadbalancer_id not in live:
            session.delete(meter)
    return len(live)


def close_usage(session: Session, lb_id: str) -> None:
    """The load balancer's teardown finished: accrue its last seconds (up to its delete
    request) and bytes, and remove its meter. Called before its counters are removed."""
    lb = session.get(m.LoadBalancer, lb_id)
    if lb is None:
        return
    meter = _meter(session, lb)
    end = max(meter.accrued_until, whole_second(lb.updated_at or lb.created_at))
    moved = _bytes_by_loadbalancer(session, lb_id).get(lb_id, (0, 0))
    _accrue(session, meter, end, moved, end)
    session.delete(meter)


def usage_report(
    session: Session, start: datetime, end: datetime, project_id: str | None
) -> UsageReport:
    """Usage of the hours that start in [start, end), per project and load balancer."""
    r = m.UsageRecord
    query = (
        select(
            r.project_id,
            r.loadbalancer_id,
            func.sum(r.seconds),
            func.sum(r.bytes_in),
            func.sum(r.bytes_out),
        )
        .where(r.hour >= start, r.hour < end)
        .group_by(r.project_id, r.loadbalancer_id)
        .order_by(r.project_id, r.loadbalancer_id)
    )
    if project_id is not None:
        query = query.where(r.project_id == project_id)
    by_project: dict[str, list[LoadBalancerUsage]] = defaultdict(list)
    for project, lb_id, seconds, bytes_in, bytes_out in session.execute(query):
        by_project[project].append(
            LoadBalancerUsage(
                loadbalancer_id=lb_id,
                loadbalancer_hours=round(int(seconds) / 3600, 6),
                bytes_in=int(bytes_in),
                bytes_out=int(bytes_out),
            )
        )
    projects = [
        ProjectUsage(
            project_id=project,
            loadbalancer_hours=round(sum(lb.loadbalancer_hours for lb in lbs), 6),
            bytes_in=sum(lb.bytes_in for lb in lbs),
            bytes_out=sum(lb.bytes_out for lb in lbs),
            loadbalancers=lbs,
        )
        for project, lbs in by_project.items()
    ]
    return UsageReport(start=start, end=end, projects=projects)
