"""Benchmark 2: how fast a member change reaches the traffic.

An ACTIVE load balancer (HTTP:80 -> ROUND_ROBIN, members b1..b3, HTTP monitor) and one client
thread looping requests through the VIP, a new connection each (bench.traffic.Client).

- weight 0 (runtime API, no reload): PUT {"weight": 0} on one member (b1, b2, b3 in turn). The
  figure is the time from just before the PUT until the start of the first request after which
  that member receives no more requests, checked over the following WINDOW requests (see
  bench.traffic.gone_at). Then weight 1 is restored and awaited (member seen again, ACTIVE).
- member add / delete (a reload): POST member b4, figure = time until the start of the first
  request that b4 answers; then DELETE it, figure = as for weight 0.

    python -m bench.member_change [--runs 30]
"""

import argparse
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import httpx

from bench.backends import named_backends
from bench.common import (
    log_report,
    machine_facts,
    ms,
    print_rows,
    server_log,
    steelyard_server,
    summarize,
    write_result,
)
from bench.lb import full_lb_body, wait_status
from bench.traffic import Client, Sample, arrived_at, errors_since, gone_at
from tests.e2e.lbtools import create_lb, pool_members

NAME = "member_change"
GOAL_P99_S = 0.1
WINDOW = 50  # requests without the member after the moment we call "gone"
BOUND_S = 20.0  # a change not seen in the traffic by then counts as failed
MEMBERS = ("b1", "b2", "b3")


# When the change is visible in what the client saw (None: not yet).
Decide = Callable[[list[Sample], float], float | None]


@dataclass
class Change:
    kind: str  # weight0 | add | delete
    member: str
    latency_s: float | None
    api_s: float  # the PUT/POST/DELETE round trip
    active_s: float | None  # until provisioning_status ACTIVE again (polled from the PUT)
    requests: int  # requests seen until both were decided
    errors: dict[str, int] = field(default_factory=dict)
    before: dict[str, int] = field(default_factory=dict)  # who answered the BEFORE requests
    sequence: str = ""  # who answered from the change on: "1" = b1, ..., "x" = no answer

    @property
    def valid(self) -> bool:
        """A removal only means something if the member was getting traffic before it."""
        return self.kind == "add" or self.before.get(self.member, 0) > 0


BEFORE = 60
SEQUENCE_MAX = 400


def _measure(
    kind: str,
    member: str,
    api: httpx.Client,
    lb_id: str,
    client: Client,
    call: Callable[[], httpx.Response],
    decide: Decide,
) -> Change:
    """Run `call` (the change) and watch the traffic until `decide` returns a time or BOUND_S."""
    mark = len(client.samples)
    before = Counter(s.backend for s in client.samples[max(0, mark - BEFORE) : mark])
    started = time.perf_counter()
    response = call()
    api_s = time.perf_counter() - started
    if response.status_code >= 300:
        raise RuntimeError(f"change: HTTP {response.status_code} {response.text}")
    decided: float | None = None
    active_at: float | None = None
    while time.perf_counter() - started < BOUND_S and (decided is None or active_at is None):
        if decided is None:
            decided = decide(client.samples[mark:], started)
        if active_at is None:
            lb = api.get(f"/v2/lbaas/loadbalancers/{lb_id}").json()["loadbalancer"]
            if lb["provisioning_status"] == "ACTIVE":
                active_at = time.perf_counter()
        time.sleep(0.005)
    seen = client.samples[mark:]
    return Change(
        kind=kind,
        member=member,
        latency_s=None if decided is None else decided - started,
        api_s=api_s,
        active_s=None if active_at is None else active_at - started,
        requests=len(seen),
        errors=errors_since(seen, started),
        before=dict(before),
        sequence="".join(s.backend[-1:] if s.status == 200 else "x" for s in seen)[:SEQUENCE_MAX],
    )


def _wait_seen(client: Client, member: str, since: float) -> None:
    deadline = time.perf_counter() + BOUND_S
    while arrived_at(client.samples[-200:], member, since) is None:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"member {member} gets no traffic")
        time.sleep(0.01)


def _gone(member: str) -> Decide:
    def decide(seen: list[Sample], since: float) -> float | None:
        return gone_at(seen, member, since, WINDOW)

    return decide


def _arrived(member: str) -> Decide:
    def decide(seen: list[Sample], since: float) -> float | None:
        return arrived_at(seen, member, since)

    return decide


def weight_runs(
    api: httpx.Client, lb_id: str, pool: str, client: Client, runs: int
) -> list[Change]:
    ids = {m["name"]: m["id"] for m in pool_members(api, pool)}
    out: list[Change] = []
    for index in range(runs):
        member = MEMBERS[index % len(MEMBERS)]
        url = f"/v2/lbaas/pools/{pool}/members/{ids[member]}"
        put = partial(api.put, url, json={"member": {"weight": 0}})
        out.append(_measure("weight0", member, api, lb_id, client, put, _gone(member)))
        _print(index, out[-1])
        restored = time.perf_counter()
        api.put(url, json={"member": {"weight": 1}}).raise_for_status()
        _wait_seen(client, member, restored)
        wait_status(api, lb_id, "ACTIVE")
    return out


def reload_runs(
    api: httpx.Client, lb_id: str, pool: str, client: Client, runs: int, host: str, port: int
) -> list[Change]:
    out: list[Change] = []
    members = f"/v2/lbaas/pools/{pool}/members"
    body = {"member": {"name": "b4", "address": host, "protocol_port": port}}
    for index in range(runs):
        post = partial(api.post, members, json=body)
        out.append(_measure("add", "b4", api, lb_id, client, post, _arrived("b4")))
        _print(index, out[-1])
        b4 = next(m["id"] for m in pool_members(api, pool) if m["name"] == "b4")
        delete = partial(api.delete, f"{members}/{b4}")
        out.append(_measure("delete", "b4", api, lb_id, client, delete, _gone("b4")))
        _print(index, out[-1])
    return out


def _print(index: int, c: Change) -> None:
    latency = "never" if c.latency_s is None else f"{ms(c.latency_s):7.1f} ms"
    active = "never" if c.active_s is None else f"{ms(c.active_s):7.1f} ms"
    print(
        f"{c.kind:8s} {index:2d} {c.member}: in traffic after {latency}  "
        f"(API {ms(c.api_s):5.1f} ms, ACTIVE after {active}, {c.requests} requests)"
        + (f"  errors {c.errors}" if c.errors else "")
        + ("" if c.valid else f"  INVALID: {c.member} got no traffic before ({c.before})")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    facts = machine_facts()
    with steelyard_server() as server, server.api() as api:
        with named_backends(server.member_host, [*MEMBERS, "b4"]) as ports:
            body = full_lb_body(server.member_host, {n: ports[n] for n in MEMBERS})
            lb = create_lb(api, body)
            wait_status(api, lb["id"], "ACTIVE")
            pool = lb["pools"][0]["id"]
            with Client(lb["vip_address"], 80) as client:
                for member in MEMBERS:
                    _wait_seen(client, member, 0.0)
                changes = weight_runs(api, lb["id"], pool, client, args.runs)
                changes += reload_runs(
                    api, lb["id"], pool, client, args.runs, server.member_host, ports["b4"]
                )
                samples = client.samples
        log = server_log(server)
    report(facts, changes, samples, log)


def report(
    facts: dict[str, Any], changes: list[Change], samples: list[Sample], log: list[str]
) -> None:
    figures: dict[str, Any] = {}
    rows = []
    for kind in ("weight0", "add", "delete"):
        everyone = [c for c in changes if c.kind == kind]
        mine = [c for c in everyone if c.valid]
        seen = [c.latency_s for c in mine if c.latency_s is not None]
        active = [c.active_s for c in mine if c.active_s is not None]
        errors = sum(sum(c.errors.values()) for c in everyone)
        entry: dict[str, Any] = {
            "runs": len(everyone),
            "invalid": len(everyone) - len(mine),  # member not in the traffic before the change
            "not_seen": len(mine) - len(seen),
            "errors": errors,
        }
        if seen:
            entry["traffic_ms"] = {k: v if k == "n" else ms(v) for k, v in summarize(seen).items()}
            t = entry["traffic_ms"]
            rows.append([kind, len(seen), t["p50"], t["p90"], t["p99"], t["max"], errors])
        if active:
            entry["active_ms"] = {k: v if k == "n" else ms(v) for k, v in summarize(active).items()}
        figures[kind] = entry
    durations = [b.start - a.start for a, b in itertools.pairwise(samples)]
    request_ms = summarize(durations) if durations else {}
    print(f"\nrequests: {len(samples)}, one every {ms(request_ms.get('p50', 0)):.2f} ms (p50)")
    print_rows(["in traffic, ms", "n", "p50", "p90", "p99", "max", "errors"], rows)
    p99 = figures["weight0"].get("traffic_ms", {}).get("p99")
    met = p99 is not None and p99 <= GOAL_P99_S * 1000 and figures["weight0"]["not_seen"] == 0
    print(f"goal: weight-0 p99 <= {GOAL_P99_S * 1000:.0f} ms: {'met' if met else 'NOT met'}")
    write_result(
        NAME,
        facts,
        {
            "what": "member change -> the traffic follows (single client, new connection each)",
            "method": {
                "weight0": "PUT weight 0; time from just before the PUT to the start of the first"
                f" request after which the member gets none, over the next {WINDOW} requests",
                "add": "POST member b4; time to the start of the first request b4 answers",
                "delete": "DELETE member b4; as weight0",
                "between_runs": "weight 1 restored, member seen again, ACTIVE (not timed)",
                "resolution": "one request (see request_interval_ms)",
                "validity": f"a weight0/delete run counts only if the member answered at least one"
                f" of the {BEFORE} requests before the change (else 'invalid', excluded)",
                "percentiles": "nearest rank",
            },
            "goal": {"weight0_p99_ms": GOAL_P99_S * 1000, "met": met},
            "figures": figures,
            "request_interval_ms": {k: v if k == "n" else ms(v) for k, v in request_ms.items()},
            "total_requests": len(samples),
            "total_errors": errors_since(samples, 0.0),
            "server_log": log_report(log),
            "changes": [{**asdict(c), "valid": c.valid} for c in changes],
        },
    )


if __name__ == "__main__":
    main()
