"""The health manager without its threads: datagrams in through Ingest, flushes and checks
called by the test with its own clock, on a real migrated SQLite file."""

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from steelyard.db import models as m
from steelyard.db.appliance_health import get_breaker, release_breaker
from steelyard.health import ingest
from steelyard.health.ingest import HELD
from steelyard.health.manager import HealthManager, HealthSettings
from steelyard.model.heartbeat import (
    MAX_DATAGRAM,
    ApplianceReport,
    Heartbeat,
    HeartbeatKey,
    Keyring,
    ProxyRow,
    StatTable,
    encode,
)
from tests.unit.dbrows import T0, Sessions, add_lb

KEY = HeartbeatKey(b"k" * 32)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def add_appliance(
    sessions: Sessions, lb_id: str | None, status: str = "ALLOCATED", created: datetime = T0
) -> str:
    name = uuid.uuid4().hex[:12] + "-0"
    with sessions() as s:
        s.add(
            m.Appliance(
                id=str(uuid.uuid4()),
                loadbalancer_id=lb_id,
                name=name,
                status=status,
                compute_driver="netns",
                host="h",
                vip_address="198.18.0.9",
                applied_generation=1,
                created_at=created,
            )
        )
        s.commit()
    return name


def beat(name: str, seq: int, **changes: object) -> bytes:
    fields: dict[str, object] = {
        "appliance": name,
        "seq": seq,
        "sent_at": 1.0,
        "generation": 4,
        "config_sha256": "cd" * 32,
        "haproxy_running": True,
        "vrrp_state": None,
        "stats": StatTable.from_rows([ProxyRow("li", "FRONTEND", "OPEN", stot=seq)]),
    }
    fields.update(changes)
    return encode(Heartbeat(**fields), KEY)  # type: ignore[arg-type]


class Manager:
    """A HealthManager driven by hand, with what it notified and reported."""

    def __init__(self, sessions: Sessions, clock: Clock) -> None:
        self.notified: list[str] = []
        self.reports: list[ApplianceReport] = []
        self.clock = clock
        self.hm = HealthManager(
            sessions,
            Keyring([KEY]),
            HealthSettings(host="127.0.0.1", port=0),
            notify=self.notified.append,
            clock=clock,
            status_writer=lambda reports, _now: self.reports.extend(reports),
        )
        self.hm.refresh()

    def send(self, data: bytes) -> str:
        return self.hm.ingest.accept(data, self.clock())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def manager(sessions: Sessions, clock: Clock) -> Iterator[Manager]:
    made = Manager(sessions, clock)
    yield made
    made.hm.stop()


def appliance(sessions: Sessions, name: str) -> m.Appliance:
    with sessions() as s:
        row = s.scalars(select(m.Appliance).where(m.Appliance.name == name)).one()
        s.expunge(row)
        return row


def test_datagrams_are_counted_by_outcome(sessions: Sessions, clock: Clock) -> None:
    name = add_appliance(sessions, add_lb(sessions))
    hm = Manager(sessions, clock)
    try:
        good = beat(name, 10)
        assert hm.send(good) == "accepted"
        assert hm.send(good) == "replayed"
        assert hm.send(beat(name, 9)) == "replayed"
        assert hm.send(beat(name, 11)) == "accepted"
        assert hm.send(beat("stranger-0", 1)) == HELD  # until the next refresh lists it or not
        forged = bytearray(beat(name, 12))
        forged[-1] ^= 1
        assert hm.send(bytes(forged)) == "forged"
        assert (
            hm.send(encode(Heartbeat(name, 13, 1.0, 1, None, True, None), HeartbeatKey(b"x" * 32)))
            == "forged"
        )
        assert hm.send(b"\x01" * (MAX_DATAGRAM + 1)) == "oversized"
        assert hm.send(b"\x00garbage") == "malformed"
        hm.hm.refresh()
        counts = hm.hm.ingest.counts()
        assert counts.model_dump() == {
            "accepted": 2,
            "forged": 2,
            "replayed": 2,
            "unknown": 1,
            "oversized": 1,
            "malformed": 1,
        }
    finally:
        hm.hm.stop()


def test_a_new_appliances_heartbeat_waits_for_the_next_refresh(
    sessions: Sessions, manager: Manager, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first heartbeat can beat the manager's next read of the list: it is held, then taken
    in with its arrival time once the appliance is listed; only strangers count as unknown."""
    name = add_appliance(sessions, add_lb(sessions))
    assert manager.send(beat(name, 1)) == HELD
    arrived = clock.now
    assert manager.send(beat("stranger-0", 1)) == HELD
    monkeypatch.setattr(ingest, "MAX_HELD", 2)
    assert manager.send(beat("stranger-1", 1)) == "unknown"  # no room to wait
    clock.advance(0.3)
    manager.hm.refresh()
    assert manager.hm.ingest.last_heard(name) == arrived
    counts = manager.hm.ingest.counts()
    assert (counts.accepted, counts.unknown, counts.replayed) == (1, 2, 0)
    manager.hm.flush()
    assert appliance(sessions, name).last_heartbeat_at == arrived
    assert manager.send(beat(name, 1)) == "replayed"
    manager.hm.refresh()
    assert manager.hm.ingest.counts().unknown == 2  # nothing held twice


def test_a_flush_records_the_latest_heartbeat_in_one_go(
    sessions: Sessions, manager: Manager, clock: Clock
) -> None:
    lb_id = add_lb(sessions)
    name = add_appliance(sessions, lb_id)
    spare = add_appliance(sessions, None, status="READY")
    manager.hm.refresh()
    manager.send(beat(name, 100))
    clock.advance(0.1)
    manager.send(beat(name, 101, generation=5, config_sha256="ef" * 32, vrrp_state="MASTER"))
    manager.send(beat(spare, 7, generation=None, config_sha256=None, haproxy_running=False))
    manager.hm.flush()
    manager.hm.write_statuses()
    row = appliance(sessions, name)
    assert (row.heartbeat_seq, row.last_heartbeat_at) == (101, clock.now)
    assert (row.applied_generation, row.config_sha256, row.role) == (5, "ef" * 32, "MASTER")
    spare_row = appliance(sessions, spare)
    assert (spare_row.heartbeat_seq, spare_row.applied_generation) == (7, 1)
    # only the serving appliance's latest heartbeat goes to the status writer
    assert [(r.loadbalancer_id, r.heartbeat.seq) for r in manager.reports] == [(lb_id, 101)]


def test_a_stopped_haproxy_does_not_overwrite_the_generation_in_force(
    sessions: Sessions, manager: Manager
) -> None:
    name = add_appliance(sessions, add_lb(sessions))
    manager.hm.refresh()
    manager.send(beat(name, 5, generation=9, haproxy_running=False, vrrp_state="FAULT"))
    manager.hm.flush()
    row = appliance(sessions, name)
    assert (row.heartbeat_seq, row.applied_generation, row.role) == (5, 1, "BACKUP")


def test_a_restarted_manager_still_refuses_old_datagrams(sessions: Sessions, clock: Clock) -> None:
    name = add_appliance(sessions, add_lb(sessions))
    first = Manager(sessions, clock)
    captured = beat(name, 500)
    assert first.send(captured) == "accepted"
    first.hm.flush()
    first.hm.stop()
    second = Manager(sessions, clock)
    try:
        assert second.send(captured) == "replayed"
        assert second.send(beat(name, 499)) == "replayed"
        assert second.send(beat(name, 501)) == "accepted"
    finally:
        second.hm.stop()


def test_a_silent_appliance_is_failed_with_an_event_and_its_lb_kicked(
    sessions: Sessions, manager: Manager, clock: Clock
) -> None:
    lb_id = add_lb(sessions, desired=3, applied=3)
    name = add_appliance(sessions, lb_id)
    others = [add_appliance(sessions, add_lb(sessions)) for _ in range(3)]
    manager.hm.refresh()
    for seq, who in enumerate([name, *others], start=1):
        manager.send(beat(who, seq))
    manager.hm.flush()
    clock.advance(2)
    for seq, who in enumerate(others, start=10):
        manager.send(beat(who, seq))
    assert manager.hm.check().failed == ()
    clock.advance(1.5)  # 3.5 s since the first appliance was heard
    verdict = manager.hm.check()
    assert [f.appliance.name for f in verdict.failed] == [name]
    row = appliance(sessions, name)
    assert (row.status, row.failed_at) == ("FAILED", clock.now)
    assert row.failed_reason is not None and row.failed_reason.startswith("no heartbeat for 3.5 s")
    with sessions() as s:
        assert s.get_one(m.LoadBalancer, lb_id).applied_generation == 0
        event = s.scalars(select(m.Event)).one()
    assert (event.type, event.severity, event.loadbalancer_id) == (
        "appliance.failed",
        "critical",
        lb_id,
    )
    assert (event.operator_details or {})["appliance"] == name and lb_id in event.message
    assert manager.notified == [lb_id]
    assert manager.hm.check().failed == ()  # FAILED is no longer watched
    assert manager.notified == [lb_id]


def test_a_heartbeat_heard_before_the_check_that_first_sees_the_appliance_counts(
    sessions: Sessions, manager: Manager, clock: Clock
) -> None:
    """The race a CI run lost: allocated and heard between two checks, then silent. Silence
    counts from that heartbeat (the timeout), not from the check that first listed it (the
    grace period for one never heard)."""
    manager.hm.check()
    clock.advance(0.05)
    name = add_appliance(sessions, add_lb(sessions), created=clock.now)
    manager.hm.refresh()  # known to the receiver (as a placement tells it), not yet checked
    clock.advance(0.05)
    assert manager.send(beat(name, 1)) == "accepted"
    heard_at = clock.now
    clock.advance(0.05)
    assert manager.hm.check().failed == ()
    clock.advance(3.1)
    verdict = manager.hm.check()
    assert [f.appliance.name for f in verdict.failed] == [name]
    assert verdict.failed[0].appliance.last_heartbeat_at == heard_at
    assert verdict.failed[0].reason.startswith("no heartbeat for 3.1 s")


def test_a_silent_spare_is_not_failed(sessions: Sessions, manager: Manager, clock: Clock) -> None:
    """Spares have no address to send heartbeats from; the spare pool checks them itself."""
    spare = add_appliance(sessions, None, status="READY")
    manager.hm.refresh()
    manager.hm.check()
    clock.advance(9.5)
    assert manager.hm.check().failed == ()
    assert appliance(sessions, spare).status == "READY"
    assert manager.notified == []


def test_haproxy_reported_down_past_the_timeout_fails_the_appliance(
    sessions: Sessions, manager: Manager, clock: Clock
) -> None:
    name = add_appliance(sessions, add_lb(sessions))
    booting = add_appliance(sessions, add_lb(sessions))
    manager.hm.refresh()
    for second in range(5):
        manager.send(beat(name, 10 + second, haproxy_running=False))
        manager.send(beat(booting, 10 + second, haproxy_running=False, generation=None))
        manager.hm.check()
        clock.advance(1)
    assert appliance(sessions, name).status == "FAILED"
    assert (appliance(sessions, name).failed_reason or "").startswith("HAProxy not running")
    assert appliance(sessions, booting).status == "ALLOCATED"  # no config yet: not meant to run


def test_many_silent_at_once_trip_the_breaker_and_fail_nothing_until_released(
    sessions: Sessions, manager: Manager, clock: Clock
) -> None:
    names = [add_appliance(sessions, add_lb(sessions)) for _ in range(4)]
    manager.hm.refresh()
    for seq, name in enumerate(names, start=1):
        manager.send(beat(name, seq))
    manager.hm.flush()
    clock.advance(4)
    manager.send(beat(names[0], 50))  # one still speaks: 3 of 4 silent
    verdict = manager.hm.check()
    assert verdict.trip and verdict.failed == ()
    with sessions() as s:
        assert get_breaker(s).tripped
        assert s.scalars(select(m.Event.type)).all() == ["health.circuit_breaker.tripped"]
    clock.advance(5)
    manager.send(beat(names[0], 51))
    assert manager.hm.check().failed == ()
    assert {appliance(sessions, n).status for n in names} == {"ALLOCATED"}
    # one comes back while tripped: fine; the operator releases; the others are failed
    manager.send(beat(names[1], 52))
    with sessions() as s:
        release_breaker(s, clock.now)
        s.commit()
    clock.advance(0.5)
    failed = manager.hm.check().failed
    assert sorted(f.appliance.name for f in failed) == sorted(names[2:])
    assert not manager.hm.check().trip
    assert [appliance(sessions, n).status for n in names[:2]] == ["ALLOCATED"] * 2


def test_the_managers_counters_reach_the_database(sessions: Sessions, manager: Manager) -> None:
    manager.send(b"nonsense")
    manager.hm.flush()
    with sessions() as s:
        row = s.scalars(
            select(m.DeploymentSetting).where(m.DeploymentSetting.key.startswith("health.manager."))
        ).one()
    assert row.value["heartbeats"]["malformed"] == 1
    assert row.value["listen"].startswith("127.0.0.1:")
