"""Row leases on load balancers: which controller reconciles which load balancer, until when.

A claim is a compare-and-set UPDATE, so it is safe on SQLite (one writer at a time) and on
PostgreSQL (row locks) alike. A lease whose owner was a process on this host that no longer
runs is free at once: after a crash and restart the embedded server need not wait out the TTL.
"""

import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from steelyard.db.models import LoadBalancer


def new_owner_id() -> str:
    """host/pid/nonce: unique per process start, and tells whether the owner still runs."""
    return f"{socket.gethostname()[:40]}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


def owner_is_dead_local(owner: str) -> bool:
    host, _, rest = owner.partition("/")
    pid_text = rest.partition("/")[0]
    if host != socket.gethostname()[:40] or not pid_text.isdigit():
        return False
    return not os.path.exists(f"/proc/{pid_text}")


def dirty_candidates(
    session: Session, now: datetime, limit: int = 16
) -> list[tuple[str, str | None]]:
    """Load balancers that need work and are not held by a live lease: (id, lease_owner)."""
    rows = session.execute(
        select(LoadBalancer.id, LoadBalancer.lease_owner, LoadBalancer.lease_expires_at)
        .where(
            or_(
                LoadBalancer.desired_generation != LoadBalancer.applied_generation,
                LoadBalancer.deleting.is_(True),
            ),
            or_(LoadBalancer.next_attempt_at.is_(None), LoadBalancer.next_attempt_at <= now),
        )
        .order_by(LoadBalancer.next_attempt_at.is_not(None), LoadBalancer.next_attempt_at)
        .limit(limit * 4)
    ).all()
    free: list[tuple[str, str | None]] = []
    for lb_id, owner, expires in rows:
        held = owner is not None and expires is not None and expires > now
        if not held or (owner is not None and owner_is_dead_local(owner)):
            free.append((lb_id, owner))
    return free[:limit]


def try_claim(
    session: Session, lb_id: str, previous_owner: str | None, owner: str, until: datetime
) -> bool:
    """Take the lease if it is still as observed (same previous owner); True on success."""
    prior = (
        LoadBalancer.lease_owner.is_(None)
        if previous_owner is None
        else LoadBalancer.lease_owner == previous_owner
    )
    result = session.execute(
        update(LoadBalancer)
        .where(LoadBalancer.id == lb_id, prior)
        .values(lease_owner=owner, lease_expires_at=until)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def renew(session: Session, lb_id: str, owner: str, until: datetime) -> bool:
    result = session.execute(
        update(LoadBalancer)
        .where(LoadBalancer.id == lb_id, LoadBalancer.lease_owner == owner)
        .values(lease_expires_at=until)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def release(session: Session, lb_id: str, owner: str) -> None:
    session.execute(
        update(LoadBalancer)
        .where(LoadBalancer.id == lb_id, LoadBalancer.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )


def claim_next(
    session_factory: Callable[[], Session], owner: str, now: datetime, ttl: timedelta
) -> str | None:
    """Claim one dirty load balancer for `owner`, or None when there is nothing to do."""
    with session_factory() as session:
        for lb_id, previous in dirty_candidates(session, now):
            if try_claim(session, lb_id, previous, owner, now + ttl):
                session.commit()
                return lb_id
        session.rollback()
    return None
