"""Benchmark 1: from POST of a fully populated load balancer to the first HTTP 200 through its VIP.

Each run: POST a SINGLE load balancer (HTTP:80 -> ROUND_ROBIN pool of 3 members with an HTTP
health monitor) in one request; the clock starts just before the POST. Right after the POST
returns, the VIP is polled with new connections (connect timeout PROBE_TIMEOUT_S, a new attempt
PROBE_INTERVAL_S after the previous one ended) until one answers 200: that instant is
"first 200". Meanwhile a thread polls the API every API_POLL_S for provisioning_status ACTIVE.
Then the load balancer is cascade-deleted and its 404 awaited (not timed) before the next run.

    python -m bench.create_to_first_200 [--runs 20]
"""

import argparse
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
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
from bench.lb import delete_and_wait, full_lb_body, http_get, wait_status

NAME = "create_to_first_200"
GOAL_P50_S = 0.5
PROBE_TIMEOUT_S = 0.05
PROBE_INTERVAL_S = 0.005
API_POLL_S = 0.02
BOUND_S = 60.0  # a run that has no 200 by then counts as failed

OCTAVIA_REPORTED = {
    "measured": False,
    "source": "issue 2, as reported (not measured here: no Nova, so no amphora can boot)",
    "amphora_vm_boot_s": 20,
    "create_to_traffic_s": [43, 97],
}


@dataclass
class Run:
    index: int
    vip: str
    post_s: float  # until the 201
    first_200_s: float | None
    active_s: float | None
    probes: int
    probe_errors: dict[str, int] = field(default_factory=dict)
    delete_s: float = 0.0


def _poll_active(api: httpx.Client, lb_id: str, started: float, out: list[float]) -> None:
    try:
        out.append(wait_status(api, lb_id, "ACTIVE", BOUND_S, API_POLL_S) - started)
    except (TimeoutError, RuntimeError, httpx.HTTPError) as exc:
        print(f"  ACTIVE not seen: {exc}")


def one_run(index: int, api: httpx.Client, body: dict[str, Any]) -> Run:
    started = time.perf_counter()
    response = api.post("/v2/lbaas/loadbalancers", json=body)
    posted = time.perf_counter()
    if response.status_code != 201:
        raise RuntimeError(f"create: HTTP {response.status_code} {response.text}")
    lb = response.json()["loadbalancer"]
    active: list[float] = []
    with httpx.Client(base_url=str(api.base_url), headers=api.headers, timeout=30) as poller:
        watcher = threading.Thread(target=_poll_active, args=(poller, lb["id"], started, active))
        watcher.start()
        errors: Counter[str] = Counter()
        probes, first_200 = 0, None
        while time.perf_counter() - started < BOUND_S:
            probes += 1
            status, detail = http_get(lb["vip_address"], 80, PROBE_TIMEOUT_S)
            if status == 200:
                first_200 = time.perf_counter() - started
                break
            errors[f"HTTP {status}" if status else detail] += 1
            time.sleep(PROBE_INTERVAL_S)
        watcher.join()
    run = Run(
        index=index,
        vip=lb["vip_address"],
        post_s=posted - started,
        first_200_s=first_200,
        active_s=active[0] if active else None,
        probes=probes,
        probe_errors=dict(errors),
    )
    run.delete_s = delete_and_wait(api, lb["id"])
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    facts = machine_facts()
    runs: list[Run] = []
    with steelyard_server() as server, server.api() as api:
        with named_backends(server.member_host, ["b1", "b2", "b3"]) as ports:
            body = full_lb_body(server.member_host, ports)
            for index in range(args.runs):
                run = one_run(index, api, body)
                runs.append(run)
                print(
                    f"run {index:2d}: vip {run.vip}  201 {ms(run.post_s):7.1f} ms  "
                    f"first 200 {_fmt(run.first_200_s)}  ACTIVE {_fmt(run.active_s)}  "
                    f"probes {run.probes} {run.probe_errors or ''}"
                )
        log = server_log(server)
    report(facts, runs, log)


def _fmt(seconds: float | None) -> str:
    return "   never" if seconds is None else f"{ms(seconds):7.1f} ms"


def report(facts: dict[str, Any], runs: list[Run], log: list[str]) -> None:
    first = [r.first_200_s for r in runs if r.first_200_s is not None]
    active = [r.active_s for r in runs if r.active_s is not None]
    post = [r.post_s for r in runs]
    figures = {
        label: {k: (v if k == "n" else ms(v)) for k, v in summarize(samples).items()}
        for label, samples in (("first_200_ms", first), ("active_ms", active), ("post_ms", post))
        if samples
    }
    print(f"\n{len(runs)} runs, {len(runs) - len(first)} without a 200 within {BOUND_S:.0f} s")
    print_rows(
        ["ms", "n", "p50", "p90", "p99", "max"],
        [[label, f["n"], f["p50"], f["p90"], f["p99"], f["max"]] for label, f in figures.items()],
    )
    p50 = figures.get("first_200_ms", {}).get("p50")
    met = p50 is not None and p50 <= GOAL_P50_S * 1000 and len(first) == len(runs)
    print(f"goal: first-200 p50 <= {GOAL_P50_S * 1000:.0f} ms: {'met' if met else 'NOT met'}")
    print(
        "Octavia (reported in issue 2, not measured here, no Nova on this machine): "
        f"{OCTAVIA_REPORTED['amphora_vm_boot_s']} s for the amphora VM boot alone, "
        "43-97 s from create to traffic."
    )
    write_result(
        NAME,
        facts,
        {
            "what": "POST of a fully populated SINGLE LB -> first HTTP 200 through the VIP",
            "method": {
                "clock_start": "just before the POST",
                "probe": f"new TCP connection + GET, connect timeout {PROBE_TIMEOUT_S * 1000:.0f}"
                f" ms, next attempt {PROBE_INTERVAL_S * 1000:.0f} ms after the previous one",
                "active": f"GET of the LB every {API_POLL_S * 1000:.0f} ms in a second thread",
                "between_runs": "cascade delete, wait for 404 (not timed)",
                "percentiles": "nearest rank",
                "lb": "HTTP:80 -> ROUND_ROBIN pool, 3 members, HTTP monitor (Octavia defaults)",
            },
            "goal": {"first_200_p50_ms": GOAL_P50_S * 1000, "met": met},
            "figures": figures,
            "octavia": OCTAVIA_REPORTED,
            "server_log": log_report(log),
            "runs": [asdict(r) for r in runs],
        },
    )


if __name__ == "__main__":
    main()
