"""Configuration drift in the database: what each appliance should run, and the records of a
drift found and repaired (controller/drift.py decides)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.events import record_event
from steelyard.db.operating import request_resync
from steelyard.model.event_types import CONFIG_DRIFT, CONFIG_REPAIRED


@dataclass(frozen=True)
class Expected:
    """The config the reconciler last put on an appliance, and whether that is settled: the
    load balancer is applied (no change or resync pending, not being deleted) and so is the
    appliance. Only a settled appliance can drift; any other is mid-apply."""

    loadbalancer_id: str
    generation: int
    config_sha256: str | None
    settled: bool


@dataclass(frozen=True)
class Drift:
    appliance: str
    loadbalancer_id: str
    expected_generation: int
    expected_sha256: str | None
    reported_generation: int | None
    reported_sha256: str | None

    def details(self) -> dict[str, object]:
        return {
            "appliance": self.appliance,
            "expected_generation": self.expected_generation,
            "reported_generation": self.reported_generation,
            "expected_sha256": self.expected_sha256,
            "reported_sha256": self.reported_sha256,
        }


def expected_configs(session: Session, names: Iterable[str]) -> dict[str, Expected]:
    """By appliance name, for those of `names` that serve a load balancer."""
    wanted = list(names)
    if not wanted:
        return {}
    rows = session.execute(
        select(
            m.Appliance.name,
            m.Appliance.loadbalancer_id,
            m.Appliance.applied_generation,
            m.Appliance.config_sha256,
            m.LoadBalancer.desired_generation,
            m.LoadBalancer.applied_generation,
            m.LoadBalancer.deleting,
        )
        .join(m.LoadBalancer, m.LoadBalancer.id == m.Appliance.loadbalancer_id)
        .where(m.Appliance.name.in_(wanted))
    ).all()
    return {
        name: Expected(
            loadbalancer_id=lb_id,
            generation=generation,
            config_sha256=sha,
            settled=not deleting and 0 < lb_applied == desired and generation == lb_applied,
        )
        for name, lb_id, generation, sha, desired, lb_applied, deleting in rows
        if lb_id is not None
    }


def record_drift(session: Session, drift: Drift, now: datetime) -> None:
    """A warning event, and the load balancer made dirty so that the reconciler pushes every
    appliance's config again (its cache of ensured appliances is skipped too)."""
    record_event(
        session,
        type=CONFIG_DRIFT,
        severity="warning",
        message=(
            f"an appliance of load balancer {drift.loadbalancer_id} runs a "
            f"configuration other than the one applied (generation {drift.reported_generation}, "
            f"expected {drift.expected_generation}); resyncing it"
        ),
        loadbalancer_id=drift.loadbalancer_id,
        operator_details=drift.details(),  # appliance and hashes: not the tenant's business
        now=now,
    )
    request_resync(session, drift.loadbalancer_id)


def record_repaired(session: Session, drift: Drift, now: datetime) -> None:
    """`drift` (as first seen) is over: the appliance reports the applied config again."""
    record_event(
        session,
        type=CONFIG_REPAIRED,
        severity="info",
        message=(
            f"an appliance of load balancer {drift.loadbalancer_id} runs the "
            "applied configuration again"
        ),
        loadbalancer_id=drift.loadbalancer_id,
        operator_details=drift.details(),  # appliance and hashes: not the tenant's business
        now=now,
    )
