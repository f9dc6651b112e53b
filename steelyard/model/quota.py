"""Quota bodies (Octavia v2 `quota`): per project, -1 unlimited, null the deployment default.

Octavia answers with both spellings of two fields (`load_balancer` and the older
`loadbalancer`, `health_monitor` and `healthmonitor`) and accepts either in a PUT.
"""

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from steelyard.model.fields import Body, Decimal, Out

UNLIMITED = -1
# the resources a quota limits, in the order responses list them; and Octavia's names of them
# in "Quota has been met for resources: ..."
KINDS = ("load_balancer", "listener", "pool", "health_monitor", "member", "l7policy", "l7rule")
KIND_NAMES = {
    "load_balancer": "Load Balancer",
    "listener": "Listener",
    "pool": "Pool",
    "health_monitor": "Health Monitor",
    "member": "Member",
    "l7policy": "L7 Policy",
    "l7rule": "L7 Rule",
}
ALIASES = {"loadbalancer": "load_balancer", "healthmonitor": "health_monitor"}

Limit = Annotated[int, Decimal, Field(ge=UNLIMITED, le=2_000_000_000)]  # Octavia's bounds
Limits = dict[str, int | None]  # kind -> limit; None: the default


class QuotaUpdate(Body):
    load_balancer: Limit | None = None
    loadbalancer: Limit | None = None
    listener: Limit | None = None
    pool: Limit | None = None
    health_monitor: Limit | None = None
    healthmonitor: Limit | None = None
    member: Limit | None = None
    l7policy: Limit | None = None
    l7rule: Limit | None = None

    def limits(self) -> Limits:
        """The limits the request sets (null: back to the default), by kind."""
        given: Limits = {}
        for name in sorted(self.model_fields_set):
            kind = ALIASES.get(name, name)
            value = getattr(self, name)
            if kind in given and given[kind] != value:
                raise ValueError(f"{name} and {kind} differ")
            given[kind] = value
        return given


class QuotaUpdateRoot(Body):
    quota: QuotaUpdate


class QuotaLimitsOut(Out):
    load_balancer: int | None
    loadbalancer: int | None
    listener: int | None
    pool: int | None
    health_monitor: int | None
    healthmonitor: int | None
    member: int | None
    l7policy: int | None
    l7rule: int | None

    @classmethod
    def fields_of(cls, limits: Mapping[str, int | None]) -> dict[str, Any]:
        fields: dict[str, Any] = {kind: limits.get(kind) for kind in KINDS}
        fields.update({alias: limits.get(kind) for alias, kind in ALIASES.items()})
        return fields

    @classmethod
    def of(cls, limits: Mapping[str, int | None]) -> "QuotaLimitsOut":
        return cls(**cls.fields_of(limits))


class QuotaOut(QuotaLimitsOut):
    project_id: str

    @classmethod
    def for_project(cls, project_id: str, limits: Mapping[str, int | None]) -> "QuotaOut":
        return cls(project_id=project_id, **cls.fields_of(limits))

    @property
    def id(self) -> str:
        """The key of pagination markers: quotas are listed by project."""
        return self.project_id
