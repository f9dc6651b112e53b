"""Benchmark 5 (issue 5): one source floods, another keeps a normal rate; who gets served.

- Backend: the trivial plain HAProxy of bench.throughput (3 ports on the VIP gateway address).
- One Steelyard load balancer with two HTTP listeners on the same members, each with
  `req_rate_per_source` LIMIT per PERIOD_S s: port 80 answers the excess 429 (`http_429`),
  port 81 closes it without an answer (`reject`). The cases run one after the other, --repeat
  times each (3), alternating.
- Two clients with their own addresses, each in a namespace on the VIP bridge
  (tests.e2e.clients): A floods with wrk (`ip netns exec`, -t2 -c50, keep-alive, --flood s, a Lua
  script counting every status); B sends --b-rate requests/s (5), a new connection each, from
  --baseline s (10, +3.7 s per repeat) before the flood to AFTER_S s after it. B's rate must
  stay under the limit: 5 req/s is 50 per 10 s (20 req/s would be 200 per 10 s: B itself
  would be refused).
- Afterwards (SETTLE_S s later: the status observer reads the tables every second) the
  listener's `rejected` counters (GET /v2/lbaas/listeners/{id}/stats) and the
  protection.breach / protection.calm events of that listener (GET /v2/operator/events, admin).

    python -m bench.protection_flood [--flood 10] [--b-rate 5] [--baseline 10] [--repeat 3]
"""

import argparse
import copy
import ipaddress
import re
import shutil
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import wrk
from bench.common import (
    appliance_info,
    log_report,
    machine_facts,
    ms,
    print_rows,
    server_log,
    steelyard_server,
    summarize,
    write_result,
)
from bench.haproxy_proc import cpu_seconds, netns_pids, wait_http
from bench.lb import full_lb_body, http_get, wait_status
from bench.throughput import _backend
from steelyard.network.namespaces import run_in_netns
from tests.e2e.clients import ClientNamespace, client_namespaces
from tests.e2e.harness import ServerHandle
from tests.e2e.lbtools import create_lb

NAME = "protection_flood"
LIMIT, PERIOD_S = 100, 10
CASES = (("http_429", 80), ("reject", 81))
A_THREADS, A_CONNECTIONS = 2, 50
AFTER_S, SETTLE_S = 5.0, 3.0
BASELINE_STEP_S = 3.7  # added to --baseline at each repeat
B_TIMEOUT_S = 5.0

# Counts every response by status in each wrk thread; done() prints the totals on one line.
COUNT_STATUSES = """\
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  statuses = {}
end
function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for key, count in pairs(thread:get("statuses")) do
      total[key] = (total[key] or 0) + count
    end
  end
  io.write("SYFLOOD statuses")
  for key, count in pairs(total) do
    io.write(" ", key, "=", count)
  end
  io.write("\\n")
end
"""
_STATUSES = re.compile(r"^SYFLOOD statuses(?P<counts>( \d+=\d+)*)$", re.M)


@dataclass(frozen=True)
class Shot:
    start: float  # perf_counter before connect
    late_ms: float  # behind B's schedule when it started
    latency_ms: float  # connect + request + response head
    status: int | None
    detail: str  # the error when status is None


class PacedClient:
    """B: one request every 1/rate s from a namespace, a new connection each, until stopped."""

    def __init__(self, client: ClientNamespace, host: str, port: int, rate: float) -> None:
        self.client, self.host, self.port, self.interval = client, host, port, 1 / rate
        self.shots: list[Shot] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="paced-client", daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> "PacedClient":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(B_TIMEOUT_S + 5)

    def _run(self) -> None:
        try:
            run_in_netns(self.client.netns, self._loop)
        except BaseException as exc:  # reported by the caller
            self.error = exc

    def _loop(self) -> None:
        due = time.perf_counter()
        while not self._stop.is_set():
            now = time.perf_counter()
            if now < due:
                self._stop.wait(due - now)
                continue
            if now - due > 1.0:  # far behind (a stalled request): do not burst to catch up
                due = now
            start = time.perf_counter()
            status, detail = http_get(self.host, self.port, B_TIMEOUT_S)
            latency = time.perf_counter() - start
            self.shots.append(Shot(start, ms(start - due), ms(latency), status, detail))
            due += self.interval


def protected_body(host: str, ports: list[int]) -> dict[str, Any]:
    """One load balancer, one listener per case, each with its own pool over the 3 ports."""
    members = {f"m{i}": port for i, port in enumerate(ports, 1)}
    body = full_lb_body(host, members, name="flood")
    template = body["loadbalancer"]["listeners"][0]
    listeners = []
    for action, port in CASES:
        listener = copy.deepcopy(template)
        listener.update(name=f"flood-{action}", protocol_port=port)
        listener["default_pool"]["name"] = f"flood-pool-{action}"
        listener["protection"] = {
            "req_rate_per_source": LIMIT,
            "req_rate_period_s": PERIOD_S,
            "action": action,
        }
        listeners.append(listener)
    body["loadbalancer"]["listeners"] = listeners
    return body


def _listeners(api: httpx.Client, lb: dict[str, Any]) -> dict[int, str]:
    found = api.get("/v2/lbaas/listeners", params={"loadbalancer_id": lb["id"]}).json()
    return {item["protocol_port"]: item["id"] for item in found["listeners"]}


def _rejected(api: httpx.Client, listener_id: str) -> dict[str, int]:
    response = api.get(f"/v2/lbaas/listeners/{listener_id}/stats")
    response.raise_for_status()
    return dict(response.json()["stats"].get("rejected") or {})


def _events(admin: httpx.Client, listener_id: str) -> list[dict[str, Any]]:
    events = []
    for kind in ("protection.breach", "protection.calm"):
        response = admin.get(
            "/v2/operator/events", params={"type": kind, "listener_id": listener_id}
        )
        response.raise_for_status()
        events += response.json()["events"]
    return sorted(events, key=lambda e: str(e.get("created_at")))


def _statuses(output: str) -> dict[str, int]:
    found = _STATUSES.search(output)
    if found is None:
        raise RuntimeError(f"the wrk script printed no status counts:\n{output}")
    return {k: int(v) for k, v in (w.split("=") for w in found["counts"].split())}


def _b_phase(shots: list[Shot]) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    for shot in shots:
        key = str(shot.status) if shot.status is not None else shot.detail
        statuses[key] = statuses.get(key, 0) + 1
    answered = [s.latency_ms for s in shots if s.status is not None]
    return {
        "requests": len(shots),
        "ok_200": statuses.get("200", 0),
        "errors": len(shots) - statuses.get("200", 0),
        "statuses": statuses,
        "latency_ms": summarize(answered) if answered else None,
        "late_ms_max": max((s.late_ms for s in shots), default=0.0),
    }


def run_case(
    server: ServerHandle,
    lb: dict[str, Any],
    listener_id: str,
    action: str,
    port: int,
    clients: tuple[ClientNamespace, ClientNamespace],
    lb_pids: list[int],
    script: Path,
    args: argparse.Namespace,
    baseline_s: float,
) -> dict[str, Any]:
    flooder, normal = clients
    vip = lb["vip_address"]
    with server.api() as api:
        rejected_before = _rejected(api, listener_id)
    with PacedClient(normal, vip, port, args.b_rate) as paced:
        time.sleep(baseline_s)
        flood_wall = datetime.now(UTC)
        flood_start = time.perf_counter()
        lb_cpu = cpu_seconds(lb_pids)
        flood = wrk.run(
            f"http://{vip}:{port}/",
            close=False,
            duration_s=args.flood,
            threads=A_THREADS,
            connections=A_CONNECTIONS,
            netns=flooder.netns,
            script=script,
        )
        lb_cpu = cpu_seconds(lb_pids) - lb_cpu
        flood_end = time.perf_counter()
        time.sleep(AFTER_S)
    if paced.error is not None:
        raise RuntimeError(f"client B failed: {paced.error!r}")
    time.sleep(SETTLE_S)
    with server.api() as api, server.api(project=None) as admin:
        rejected_after = _rejected(api, listener_id)
        events = _events(admin, listener_id)
    rejected = {k: v - rejected_before.get(k, 0) for k, v in rejected_after.items()}
    statuses = _statuses(flood.pop("output"))
    errors = flood["errors"]
    unanswered = errors["read"] + errors["write"] + errors["timeout"]
    answered = sum(statuses.values())
    a = {
        "address": flooder.address,
        "answered": answered,
        "statuses": statuses,
        "ok_200": statuses.get("200", 0),
        "refused_429": statuses.get("429", 0),
        "closed_without_answer": unanswered,
        "connect_errors": errors["connect"],
        # Each refused request closed by HAProxy is one wrk read error (wrk then reconnects).
        "sent_approx": answered + unanswered,
        "duration_s": flood["duration_s"],
        "sent_per_s": round((answered + unanswered) / flood["duration_s"], 1),
        "wrk": flood,
        "lb_cpu_s": round(lb_cpu, 2),
    }
    phases = {
        "baseline": [s for s in paced.shots if s.start < flood_start],
        "flood": [s for s in paced.shots if flood_start <= s.start < flood_end],
        "after": [s for s in paced.shots if s.start >= flood_end],
    }
    for event in events:  # created_at: naive UTC, whole seconds (so up to 1 s early here)
        created = datetime.fromisoformat(str(event["created_at"]).removesuffix("Z"))
        event["t_s_after_flood_start"] = round(
            (created.replace(tzinfo=UTC) - flood_wall).total_seconds(), 1
        )
    # This case's own events (the listener's earlier floods raised theirs).
    events = [e for e in events if e["t_s_after_flood_start"] >= -baseline_s - 1]
    breach = [e for e in events if e["type"] == "protection.breach"]
    tops = [[t.get("address") for t in e.get("details", {}).get("top_sources", [])] for e in breach]
    return {
        "action": action,
        "port": port,
        "listener_id": listener_id,
        "flood_started_at": flood_wall.isoformat(timespec="milliseconds"),
        "baseline_s": baseline_s,
        "a": a,
        "b": {"address": normal.address, "rate_per_s": args.b_rate}
        | {name: _b_phase(shots) for name, shots in phases.items()},
        "b_shots": [asdict(s) | {"t_s": round(s.start - flood_start, 3)} for s in paced.shots],
        "listener_rejected": rejected,
        "events": events,
        "breach_event": bool(breach),
        "breach_names_a": any(flooder.address in top for top in tops),
        "breach_top_sources": tops,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood", type=int, default=10, help="seconds of flood per case")
    parser.add_argument("--b-rate", type=float, default=5.0, help="B's requests per second")
    parser.add_argument(
        "--baseline", type=float, default=10.0, help="seconds of B alone before the flood"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case, alternating")
    args = parser.parse_args()
    if not (1 <= args.flood <= 60 and 0.5 <= args.b_rate <= 50 and 1 <= args.baseline <= 60):
        parser.error("--flood and --baseline: 1..60 s; --b-rate: 0.5..50 per s")
    if not 1 <= args.repeat <= 10:
        parser.error("--repeat: 1..10")
    wrk.require_wrk()
    facts = machine_facts()
    work = Path(tempfile.mkdtemp(prefix="sybench-pf-"))
    script = work / "count_statuses.lua"
    script.write_text(COUNT_STATUSES)
    cases: list[dict[str, Any]] = []
    try:
        with ExitStack() as stack:
            server = stack.enter_context(steelyard_server())
            ports, _ = _backend(work, server.member_host, stack)
            with server.api() as api:
                lb = create_lb(api, protected_body(server.member_host, ports))
                wait_status(api, lb["id"], "ACTIVE")
                listeners = _listeners(api, lb)
            info = appliance_info(server, lb["id"])
            config = (Path(info.paths.stats_socket).parent / "haproxy.cfg").read_text()
            for _, port in CASES:
                wait_http(lb["vip_address"], port)
            # Client addresses from the top of the subnet (Steelyard allocates VIPs from the
            # bottom).
            top = ipaddress.ip_network(server.vip_cidr).broadcast_address
            addresses = [str(top - 10), str(top - 11)]
            clients = stack.enter_context(client_namespaces(server, addresses))
            for repeat in range(args.repeat):
                # A longer baseline each time: the floods start at different phases of the
                # agent's periodic work (its source scans are cached for 10 s).
                baseline_s = args.baseline + repeat * BASELINE_STEP_S
                for action, port in CASES:
                    print(
                        f"case {action} (port {port}) #{repeat}: B alone {baseline_s:g} s, "
                        "then the flood ..."
                    )
                    case = run_case(
                        server,
                        lb,
                        listeners[port],
                        action,
                        port,
                        (clients[0], clients[1]),
                        netns_pids(info.netns or ""),
                        script,
                        args,
                        baseline_s,
                    )
                    case["repeat"] = repeat
                    cases.append(case)
                    _print_case(case)
            log = server_log(server)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(facts, args, cases, config, log)


def _print_case(case: dict[str, Any]) -> None:
    a = case["a"]
    print(
        f"  A {a['address']}: ~{a['sent_approx']:,} sent ({a['sent_per_s']:,.0f}/s), "
        f"{a['ok_200']} x 200, {a['refused_429']} x 429, "
        f"{a['closed_without_answer']:,} closed without answer, statuses {a['statuses']}"
    )
    for phase in ("baseline", "flood", "after"):
        b = case["b"][phase]
        lat = b["latency_ms"] or {}
        print(
            f"  B {phase:8s}: {b['requests']} requests, {b['ok_200']} x 200, {b['errors']} "
            f"errors, p50 {lat.get('p50', 0):.2f} ms, p99 {lat.get('p99', 0):.2f} ms"
        )
    print(
        f"  listener rejected: {case['listener_rejected']}; breach event: "
        f"{case['breach_event']}, names A: {case['breach_names_a']}"
    )
    for event in case["events"]:
        print(f"  event at {event['t_s_after_flood_start']:+.0f} s: {event['message']}")


def report(
    facts: dict[str, Any],
    args: argparse.Namespace,
    cases: list[dict[str, Any]],
    config: str,
    log: list[str],
) -> None:
    print(f"\nA: wrk -t{A_THREADS} -c{A_CONNECTIONS} keep-alive for {args.flood} s")
    print_rows(
        ["action", "A sent~", "A/s", "A 200", "A 429", "A closed", "LB rejected", "breach",
         "names A"],
        [
            [f"{c['action']} #{c['repeat']}", c["a"]["sent_approx"], c["a"]["sent_per_s"],
             c["a"]["ok_200"],
             c["a"]["refused_429"], c["a"]["closed_without_answer"],
             sum(c["listener_rejected"].values()), c["breach_event"], c["breach_names_a"]]
            for c in cases
        ],
    )  # fmt: skip
    print(f"\nB: {args.b_rate:g} req/s, a new connection each")
    rows = []
    for c in cases:
        for phase in ("baseline", "flood", "after"):
            b = c["b"][phase]
            lat = b["latency_ms"] or {}
            rows.append(
                [f"{c['action']} #{c['repeat']}", phase, b["requests"], b["ok_200"], b["errors"],
                 lat.get("p50"), lat.get("p99"), lat.get("max")]
            )  # fmt: skip
    print_rows(["action", "phase", "requests", "200", "errors", "p50 ms", "p99 ms", "max ms"], rows)
    b_served = all(c["b"][p]["errors"] == 0 for c in cases for p in ("baseline", "flood", "after"))
    a_limited = all(c["a"]["ok_200"] <= LIMIT * (1 + args.flood // PERIOD_S) for c in cases)
    named = sum(c["breach_names_a"] for c in cases)
    raised = sum(c["breach_event"] for c in cases)
    print(f"B served throughout: {b_served}; A held to its limit: {a_limited}")
    print(f"breach events: {raised} of {len(cases)} floods; naming A: {named} of {len(cases)}")
    write_result(
        NAME,
        facts,
        {
            "what": "one source floods a listener limited per source, another keeps a normal "
            "rate: requests served and refused, B's latency, the listener's counters and events",
            "method": {
                "limit": f"req_rate_per_source {LIMIT} per {PERIOD_S} s",
                "cases": {action: f"listener port {port}" for action, port in CASES},
                "a": f"wrk -t{A_THREADS} -c{A_CONNECTIONS} -d{args.flood}s keep-alive in its own"
                " namespace, Lua counting statuses; a request HAProxy closes without an answer is "
                "a wrk read error",
                "b": f"{args.b_rate:g} req/s, a new connection each, from --baseline "
                f"{args.baseline:g} s (+{BASELINE_STEP_S} s per repeat) "
                f"before to {AFTER_S:.0f} s after the flood; timeout {B_TIMEOUT_S:.0f} s",
                "settle_s": SETTLE_S,
            },
            "checks": {
                "b_served_throughout": b_served,
                "a_held_to_limit": a_limited,
                "floods": len(cases),
                "breach_events": raised,
                "breach_events_naming_a": named,
            },
            "cases": cases,
            "config": config,
            "server_log": log_report(log),
        },
    )


if __name__ == "__main__":
    main()
