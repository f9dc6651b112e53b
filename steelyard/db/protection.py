"""The stored layers of listener protection (issue 5), read back as `Protection` values.

A listener's effective protection merges (see model/protection.py):
- the tenant's `listeners.protection`,
- the deployment defaults (`deployment_settings` row "protection_defaults"),
- the operator's layers of its load balancer: `loadbalancers.protection_override`, then
  UNDER_ATTACK while `loadbalancers.under_attack` is set.
Every value was validated when it was written; reading parses it again, so callers get
`Protection` objects, never JSON.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.model.listener_protection import for_protocol
from steelyard.model.protection import UNDER_ATTACK, Protection, effective_protection
from steelyard.model.spec import ProtectionSpec

DEFAULTS_KEY = "protection_defaults"
# (deployment defaults, operator overrides in order): the arguments of effective_protection
Layers = tuple[Protection | None, tuple[Protection, ...]]


def parse_protection(raw: dict[str, Any] | None) -> Protection | None:
    """Stored settings; None (and {}) for none at all."""
    return Protection.model_validate(raw) if raw else None


def stored(protection: Protection | None) -> dict[str, Any] | None:
    """What the database keeps: the fields given, None when there are none."""
    raw = None if protection is None else protection.model_dump(mode="json", exclude_none=True)
    return raw or None


def listener_protection(row: m.Listener) -> Protection | None:
    """The tenant's own settings of a listener."""
    return parse_protection(row.protection)


def deployment_defaults(session: Session) -> Protection | None:
    row = session.get(m.DeploymentSetting, DEFAULTS_KEY)
    return None if row is None else parse_protection(row.value)


def operator_layers(lb: m.LoadBalancer) -> tuple[Protection, ...]:
    override = parse_protection(lb.protection_override)
    return (
        *((override,) if override is not None else ()),
        *((UNDER_ATTACK,) if lb.under_attack else ()),
    )


def protection_layers(session: Session, lb_id: str) -> Layers:
    """The deployment defaults and the load balancer's overrides (UNDER_ATTACK included
    while it is under attack), ready for `effective_protection(tenant, *layers)`."""
    return deployment_defaults(session), operator_layers(session.get_one(m.LoadBalancer, lb_id))


def listener_effective(row: m.Listener, layers: Layers) -> ProtectionSpec | None:
    """What the listener's data plane enforces: the merged layers, less what its protocol
    cannot do (model/listener_protection.py). None: nothing is limited."""
    defaults, overrides = layers
    spec = effective_protection(listener_protection(row), defaults, overrides)
    return for_protocol(spec, row.protocol)


def effective_by_listener(
    session: Session, rows: Sequence[m.Listener]
) -> dict[str, ProtectionSpec | None]:
    """`listener_effective` of many listeners, with one read per kind of layer."""
    if not rows:
        return {}
    defaults = deployment_defaults(session)
    lb_ids = {row.loadbalancer_id for row in rows}
    lbs = session.scalars(select(m.LoadBalancer).where(m.LoadBalancer.id.in_(lb_ids)))
    overrides = {lb.id: operator_layers(lb) for lb in lbs}
    return {
        row.id: listener_effective(row, (defaults, overrides[row.loadbalancer_id])) for row in rows
    }
