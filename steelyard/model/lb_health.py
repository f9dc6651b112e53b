"""A load balancer's health in plain language, for operators (GET /v2/operator/loadbalancers/
{id}): one word (OK, DEGRADED, DOWN) and the findings behind it, computed from plain data with
no I/O, so that every rule has a unit test.

    "2 of 2 appliances report heartbeats; MASTER is lb-1; 1 of 3 members is down:
     198.18.0.1:8081 (ERROR)"

The word is the worst of the findings':
- DOWN: nothing can answer: disabled by its owner, no serving appliance reports heartbeats, an
  ACTIVE_STANDBY pair without a MASTER, or no enabled member up;
- DEGRADED: it answers, with less than it should: a silent, failed or missing appliance, two
  MASTERs, an appliance whose config differs from the load balancer's, a failed apply (its
  error is kept until an apply succeeds), a member down, or still being created;
- OK: everything above is fine (a change being applied is mentioned, not counted).
"""

import ipaddress
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

HealthWord = Literal["OK", "DOWN", "DEGRADED"]
_RANK: dict[HealthWord, int] = {"OK": 0, "DEGRADED": 1, "DOWN": 2}
SERVING = ("ALLOCATED", "RETIRING")  # appliance statuses that hold the VIP (or may)
FAILED = ("FAILED", "ERROR")
MEMBER_DOWN = "ERROR"
MEMBER_DISABLED = "OFFLINE"
NAMED_AT_MOST = 5  # members or appliances named in one finding; the rest are counted
ERROR_TEXT_AT_MOST = 200


@dataclass(frozen=True)
class ApplianceState:
    name: str
    status: str  # Steelyard's: BOOTING, READY, ALLOCATED, RETIRING, FAILED
    role: str  # STANDALONE, MASTER, BACKUP, ACTIVE
    heartbeat_age_s: float | None  # None: never heard from
    applied_generation: int
    failed_reason: str | None = None


@dataclass(frozen=True)
class MemberState:
    address: str
    protocol_port: int
    operating_status: str  # ONLINE, ERROR, DRAINING, OFFLINE, NO_MONITOR
    admin_state_up: bool = True


@dataclass(frozen=True)
class LoadBalancerState:
    topology: str  # SINGLE, ACTIVE_STANDBY, ACTIVE_ACTIVE
    expected_appliances: int
    provider: str
    admin_state_up: bool
    provisioning_status: str
    desired_generation: int
    applied_generation: int
    last_error: str | None
    appliances: tuple[ApplianceState, ...]
    members: tuple[MemberState, ...]


class HealthSummary(BaseModel):
    status: HealthWord
    summary: str  # the findings in one line
    findings: list[str]


class _Verdict:
    def __init__(self) -> None:
        self.word: HealthWord = "OK"
        self.findings: list[str] = []

    def add(self, finding: str, word: HealthWord = "OK") -> None:
        self.findings.append(finding)
        if _RANK[word] > _RANK[self.word]:
            self.word = word


def endpoint(address: str, port: int) -> str:
    """`198.18.0.1:8081`, `[fd00::1]:8081`."""
    try:
        v6 = ipaddress.ip_address(address).version == 6
    except ValueError:
        v6 = False
    return f"[{address}]:{port}" if v6 else f"{address}:{port}"


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:NAMED_AT_MOST])
    rest = len(items) - NAMED_AT_MOST
    return shown if rest <= 0 else f"{shown} and {rest} more"


def _is(count: int) -> str:
    return "is" if count == 1 else "are"


def _age(seconds: float | None) -> str:
    return "never heard from" if seconds is None else f"last heartbeat {seconds:.0f} s ago"


def _appliances(lb: LoadBalancerState, heartbeat_timeout_s: float, verdict: _Verdict) -> None:
    serving = [a for a in lb.appliances if a.status in SERVING]
    reporting = [
        a
        for a in serving
        if a.heartbeat_age_s is not None and a.heartbeat_age_s <= heartbeat_timeout_s
    ]
    creating = lb.provisioning_status == "PENDING_CREATE"
    if not serving:
        if creating:
            verdict.add("being created: no appliance serves yet", "DEGRADED")
        else:
            verdict.add(f"no appliance serves it (0 of {lb.expected_appliances})", "DOWN")
    else:
        word: HealthWord = "DOWN" if not reporting else "OK"
        verdict.add(f"{len(reporting)} of {len(serving)} appliances report heartbeats", word)
        silent = [a for a in serving if a not in reporting]
        if silent and reporting:
            named = _listed([f"{a.name} ({_age(a.heartbeat_age_s)})" for a in silent])
            verdict.add(f"silent: {named}", "DEGRADED")
        if len(serving) < lb.expected_appliances:
            verdict.add(f"{len(serving)} of {lb.expected_appliances} appliances serve", "DEGRADED")
    failed = [a for a in lb.appliances if a.status in FAILED]
    if failed:
        named = _listed([f"{a.name} ({a.failed_reason or 'no reason recorded'})" for a in failed])
        verdict.add(f"{len(failed)} failed, being replaced: {named}", "DEGRADED")
    if lb.topology == "ACTIVE_STANDBY" and serving:
        masters = [a.name for a in serving if a.role == "MASTER"]
        if not masters:
            verdict.add("no appliance is MASTER: nothing holds the VIP", "DOWN")
        elif len(masters) == 1:
            verdict.add(f"MASTER is {masters[0]}")
        else:
            verdict.add(f"{len(masters)} appliances claim MASTER: {_listed(masters)}", "DEGRADED")
    settled = lb.applied_generation >= lb.desired_generation
    if not settled and not creating:
        verdict.add(f"applying generation {lb.desired_generation}")
    drifted = [a for a in serving if a.applied_generation != lb.desired_generation]
    if settled and drifted:
        named = _listed([f"{a.name} runs {a.applied_generation}" for a in drifted])
        verdict.add(f"config differs from generation {lb.desired_generation}: {named}", "DEGRADED")


def _members(members: tuple[MemberState, ...], verdict: _Verdict) -> None:
    if not members:
        return
    enabled = [m for m in members if m.admin_state_up and m.operating_status != MEMBER_DISABLED]
    down = [m for m in enabled if m.operating_status == MEMBER_DOWN]
    disabled = len(members) - len(enabled)
    if down:
        named = _listed([f"{endpoint(m.address, m.protocol_port)} (ERROR)" for m in down])
        word: HealthWord = "DOWN" if len(down) == len(enabled) else "DEGRADED"
        verdict.add(f"{len(down)} of {len(members)} members {_is(len(down))} down: {named}", word)
    elif enabled:
        verdict.add(f"{len(enabled)} of {len(members)} members up")
    if disabled:
        verdict.add(f"{disabled} {'member is' if disabled == 1 else 'members are'} disabled")


def summarize_health(lb: LoadBalancerState, heartbeat_timeout_s: float) -> HealthSummary:
    verdict = _Verdict()
    if not lb.admin_state_up:
        verdict.add("disabled by its owner (admin_state_up is false)", "DOWN")
    if lb.provider == "noop":
        verdict.add("noop provider: no data plane")
    else:
        _appliances(lb, heartbeat_timeout_s, verdict)
    if lb.last_error:
        # cleared by the next successful apply: the current config is not in force
        verdict.add(f"last apply failed: {lb.last_error[:ERROR_TEXT_AT_MOST]}", "DEGRADED")
    _members(lb.members, verdict)
    return HealthSummary(
        status=verdict.word, summary="; ".join(verdict.findings), findings=verdict.findings
    )
