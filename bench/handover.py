"""Benchmark (issue 4): planned switchovers of an ACTIVE_STANDBY pair under continuous load.

One pair (bench.lb.full_lb_body: HTTP:80, 3 members; an ACTIVE_STANDBY flavor) is failed over
by the operator (PUT /v2/lbaas/loadbalancers/{id}/failover: both appliances replaced one at a
time, the old MASTER drained before it hands the VIP over: agent/drain.py) RUNS times in a
row, while on the host side of the VIP bridge:

- wrk: 2 threads, 16 keep-alive connections, the whole time (the load; its socket errors and
  non-2xx answers are counted);
- 4 keep-alive clients (tests/support/keepalive_clients.py): requests back to back, no retries;
- a patient client: a new connection + GET every 20 ms, 5 s timeout (a dropped SYN is sent
  again after 1 s): its failures and the longest time one of its requests took;
- bench/failover.py's probe: a new connection every 10 ms given up after 0.9 s: the gap
  between two successful new connections around the switchover.

Each drain's time comes from the server log ("... drained in N ms before the handover").

    python -m bench.handover [--runs 10]
"""

import argparse
import re
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from bench import wrk
from bench.common import machine_facts, print_rows, server_log, summarize, write_result
from bench.failover import PAIR, SINCE_S, Env, Results, _environment, _new_pair, _probe, _vip_on
from tests.e2e.ha_tools import by_role, wait_redundant
from tests.support.gap_probe import GapProbe
from tests.support.keepalive_clients import KeepAliveClients

NAME = "handover"
BOUND_S = 60.0
SETTLE_S = 1.0  # traffic before each switchover, and after the pair is whole again
PER_RUN_S = 8  # wrk's duration budget per switchover
_DRAINED = re.compile(r"drained in (\d+) ms before the handover \((\d+) requests cut")


@dataclass
class Switchover:
    index: int
    gap_s: float  # impatient probe, longest time between two successful new connections
    probe_failures: int  # its attempts given up after 0.9 s (SYNs dropped meanwhile)
    patient_attempts: int
    patient_failures: int
    patient_longest_s: float  # the longest request of the patient client
    keepalive_requests: int
    keepalive_failures: list[str]
    redundant_s: float  # the PUT -> a pair again, both replaced


def switchovers(env: Env, runs: int) -> tuple[list[Switchover], dict[str, Any]]:
    """`runs` switchovers under load; and wrk's report over all of them."""
    out: list[Switchover] = []
    lb, pair = _new_pair(env)
    vip, url = lb["vip_address"], f"/v2/lbaas/loadbalancers/{lb['id']}/failover"
    load: dict[str, Any] = {}

    def run_wrk() -> None:
        load.update(
            wrk.run(
                f"http://{vip}/",
                close=False,
                duration_s=runs * PER_RUN_S + 10,
                threads=2,
                connections=16,
            )
        )

    loader = threading.Thread(target=run_wrk, name="wrk")
    loader.start()
    try:
        with KeepAliveClients(None, vip, 80, count=4) as clients:
            for index in range(runs):
                before = frozenset(a["id"] for a in pair)
                if not _vip_on(pair, vip, by_role(pair, "MASTER")["name"]):
                    raise RuntimeError(f"the VIP of {lb['id']} is not on its MASTER")
                patient = GapProbe(None, vip, 80, interval=0.02, timeout=5.0)
                failed_before, answered_before = len(clients.failures()), clients.requests()
                with _probe(vip) as probe, patient:
                    time.sleep(SETTLE_S)
                    at = time.monotonic()
                    response = env.admin.put(url)
                    if response.status_code != 202:
                        raise RuntimeError(f"failover: HTTP {response.status_code}")
                    pair = wait_redundant(env.admin, lb["id"], PAIR, gone=before, timeout_s=BOUND_S)
                    redundant = time.monotonic() - at
                    time.sleep(SETTLE_S)
                report = probe.report(since=at - SINCE_S)
                calm = patient.report()
                out.append(
                    Switchover(
                        index=index,
                        gap_s=report.longest_gap_s,
                        probe_failures=report.failures,
                        patient_attempts=calm.attempts,
                        patient_failures=calm.failures,
                        patient_longest_s=max(a.finished - a.started for a in patient.attempts()),
                        keepalive_requests=clients.requests() - answered_before,
                        keepalive_failures=[f.error for f in clients.failures()[failed_before:]],
                        redundant_s=redundant,
                    )
                )
                print(
                    f"  switchover {index}: gap {report.longest_gap_s:.3f} s, patient "
                    f"{calm.failures}/{calm.attempts} failed, longest "
                    f"{out[-1].patient_longest_s:.3f} s, keep-alive "
                    f"{len(out[-1].keepalive_failures)} failed of {out[-1].keepalive_requests}"
                )
    finally:
        loader.join()
    env.delete(lb["id"])
    return out, load


def drains(lines: list[str]) -> list[dict[str, int]]:
    return [
        {"drain_ms": int(found[1]), "cut": int(found[2])}
        for line in lines
        if (found := _DRAINED.search(line))
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, choices=range(1, 51), metavar="1..50")
    args = parser.parse_args()
    facts = machine_facts()
    started = time.monotonic()
    res = Results()
    with _environment("steelyard", (), res) as env:
        runs, load = switchovers(env, args.runs)
        drained = drains(server_log(env.server))
    facts["duration_s"] = round(time.monotonic() - started, 1)
    figures = {
        "switchovers": len(runs),
        "gap_s": summarize([r.gap_s for r in runs]),
        "probe_failures": sum(r.probe_failures for r in runs),
        "patient_failures": sum(r.patient_failures for r in runs),
        "patient_attempts": sum(r.patient_attempts for r in runs),
        "patient_longest_s": max(r.patient_longest_s for r in runs),
        "keepalive_failures": sum(len(r.keepalive_failures) for r in runs),
        "keepalive_requests": sum(r.keepalive_requests for r in runs),
        "wrk_requests": load.get("requests"),
        "wrk_errors": load.get("errors"),
        "drain_ms": summarize([d["drain_ms"] for d in drained]) if drained else None,
        "drain_requests_cut": sum(d["cut"] for d in drained),
        "redundant_s": summarize([r.redundant_s for r in runs]),
    }
    print_rows(["figure", "value"], [[k, v] for k, v in figures.items()])
    write_result(
        NAME,
        facts,
        {
            "what": "planned switchovers (operator failover of a pair) under continuous load",
            "method": __doc__,
            "figures": figures,
            "drains": drained,
            "runs": [asdict(r) for r in runs],
            "servers": res.servers,
        },
    )


if __name__ == "__main__":
    main()
