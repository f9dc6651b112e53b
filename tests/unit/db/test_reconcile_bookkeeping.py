"""Leases and reconcile outcomes on a real, migrated SQLite file."""

import subprocess
import sys
import uuid
from datetime import timedelta

from steelyard.db import models as m
from steelyard.db.leases import claim_next, new_owner_id, release
from steelyard.db.operating import request_resync
from steelyard.db.outcomes import record_applied, record_deleted, record_failure
from steelyard.db.snapshot import load_snapshot
from tests.unit.dbrows import T0, Sessions, add_lb

TTL = timedelta(seconds=15)


def add_listener(sessions: Sessions, lb_id: str, port: int, status: str) -> str:
    listener_id = str(uuid.uuid4())
    with sessions() as s:
        s.add(
            m.Listener(
                id=listener_id,
                project_id="p1",
                loadbalancer_id=lb_id,
                protocol="HTTP",
                protocol_port=port,
                provisioning_status=status,
                operating_status="OFFLINE",
                created_at=T0,
            )
        )
        s.commit()
    return listener_id


def test_claim_is_exclusive_until_release(sessions: Sessions) -> None:
    lb_id = add_lb(sessions)
    assert claim_next(sessions, "a/1/x", T0, TTL) == lb_id
    assert claim_next(sessions, "b/2/y", T0, TTL) is None
    with sessions() as s:
        release(s, lb_id, "a/1/x")
        s.commit()
    assert claim_next(sessions, "b/2/y", T0, TTL) == lb_id


def test_expired_lease_is_taken_over(sessions: Sessions) -> None:
    lb_id = add_lb(sessions)
    assert claim_next(sessions, "a/1/x", T0, TTL) == lb_id
    assert claim_next(sessions, "b/2/y", T0 + TTL + timedelta(seconds=1), TTL) == lb_id


def test_lease_of_dead_local_process_is_free_at_once(sessions: Sessions) -> None:
    lb_id = add_lb(sessions)
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_owner = new_owner_id().split("/")[0] + f"/{child.stdout.strip()}/dead"
    assert claim_next(sessions, dead_owner, T0, TTL) == lb_id
    assert claim_next(sessions, new_owner_id(), T0, TTL) == lb_id


def test_clean_load_balancer_is_not_claimed(sessions: Sessions) -> None:
    add_lb(sessions, desired=3, applied=3)
    assert claim_next(sessions, "a/1/x", T0, TTL) is None


def test_applied_settles_statuses_only_when_nothing_newer_is_queued(sessions: Sessions) -> None:
    lb_id = add_lb(sessions, desired=2)
    listener = add_listener(sessions, lb_id, 80, "PENDING_CREATE")
    with sessions() as s:
        snap = load_snapshot(s, lb_id)
        assert snap is not None
        # generation 2 is still queued
        record_applied(s, lb_id, 1, snap.doomed, T0, resyncs_seen=snap.resyncs_requested)
        s.commit()
        lb = s.get_one(m.LoadBalancer, lb_id)
        assert (lb.applied_generation, lb.provisioning_status) == (1, "PENDING_CREATE")
        assert s.get_one(m.Listener, listener).provisioning_status == "PENDING_CREATE"
        record_applied(s, lb_id, 2, snap.doomed, T0, resyncs_seen=snap.resyncs_requested)
        s.commit()
        s.expire_all()
        assert s.get_one(m.LoadBalancer, lb_id).provisioning_status == "ACTIVE"
        assert s.get_one(m.Listener, listener).provisioning_status == "ACTIVE"


def test_a_resync_asked_for_during_an_apply_is_not_lost(sessions: Sessions) -> None:
    """An operator's resync (or a drift repair, or a failover) while generation 2 is being
    applied: the apply settles the statuses but the load balancer stays dirty with nothing
    applied, so the next run ensures every appliance again."""
    lb_id = add_lb(sessions, desired=2, applied=1)
    with sessions() as s:
        during = load_snapshot(s, lb_id)  # the apply of generation 2 starts
        assert during is not None
        request_resync(s, lb_id)
        s.commit()
        record_applied(s, lb_id, 2, during.doomed, T0, resyncs_seen=during.resyncs_requested)
        s.commit()
        s.expire_all()
        lb = s.get_one(m.LoadBalancer, lb_id)
        assert (lb.applied_generation, lb.provisioning_status) == (0, "ACTIVE")
    assert claim_next(sessions, "a/1/x", T0, TTL) == lb_id
    with sessions() as s:
        after = load_snapshot(s, lb_id)  # the next run: a full one (nothing applied)
        assert after is not None and after.applied_generation == 0
        record_applied(s, lb_id, 2, after.doomed, T0, resyncs_seen=after.resyncs_requested)
        s.commit()
        assert s.get_one(m.LoadBalancer, lb_id).applied_generation == 2


def test_doomed_children_are_removed_after_apply(sessions: Sessions) -> None:
    lb_id = add_lb(sessions)
    keep = add_listener(sessions, lb_id, 80, "PENDING_CREATE")
    doomed = add_listener(sessions, lb_id, 81, "PENDING_DELETE")
    with sessions() as s:
        snap = load_snapshot(s, lb_id)
        assert snap is not None
        assert [li.id for li in snap.spec.listeners] == [keep]
        assert snap.doomed.listeners == (doomed,)
        record_applied(s, lb_id, 1, snap.doomed, T0, resyncs_seen=snap.resyncs_requested)
        s.commit()
        assert s.get(m.Listener, doomed) is None
        assert s.get(m.Listener, keep) is not None


def test_failure_backs_off_and_reports_error_after_retries(sessions: Sessions) -> None:
    lb_id = add_lb(sessions)
    delays = []
    for _ in range(3):
        with sessions() as s:
            delays.append(record_failure(s, lb_id, "agent unreachable", T0))
            s.commit()
    assert delays[0] < delays[1] < delays[2]
    assert claim_next(sessions, "a/1/x", T0, TTL) is None  # backing off
    assert claim_next(sessions, "a/1/x", T0 + delays[2], TTL) == lb_id
    with sessions() as s:
        lb = s.get_one(m.LoadBalancer, lb_id)
        assert (lb.provisioning_status, lb.last_error) == ("ERROR", "agent unreachable")


def test_deleted_removes_everything(sessions: Sessions) -> None:
    lb_id = add_lb(sessions)
    add_listener(sessions, lb_id, 80, "PENDING_DELETE")
    with sessions() as s:
        record_deleted(s, lb_id, T0)
        s.commit()
        assert s.get(m.LoadBalancer, lb_id) is None
        assert s.query(m.Listener).count() == 0


def test_observed_statuses_are_written(sessions: Sessions) -> None:
    from steelyard.db.operating import ObservedStatuses, write_statuses
    from steelyard.model.enums import OperatingStatus as Op

    lb_id = add_lb(sessions)
    listener = add_listener(sessions, lb_id, 80, "ACTIVE")
    seen = ObservedStatuses(Op.DEGRADED, {listener: Op.DEGRADED}, {}, {}, {})
    with sessions() as s:
        write_statuses(s, lb_id, seen, T0)
        s.commit()
        assert s.get_one(m.LoadBalancer, lb_id).operating_status == "DEGRADED"
        assert s.get_one(m.Listener, listener).operating_status == "DEGRADED"
