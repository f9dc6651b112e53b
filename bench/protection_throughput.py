"""Benchmark 4 (issue 5): what listener protection costs in throughput, ON vs OFF in one run.

- Backend: the trivial plain HAProxy of bench.throughput (3 ports on the VIP gateway address).
- Two load balancers made by Steelyard over it, identical but for the listener's `protection`:
  OFF has none; ON has per-source limits so high that they never trigger, so every request pays
  the tracking (track-sc0 on connect, conn_cur/conn_rate/http_req_rate updates, the limit
  ACLs). `conn_rate_period_s` is 3600 (not 10) because the source table's expiry is its longest
  period: pre-filled entries then outlive the run. A rate's period does not change its cost.
- Three phases, each with the cases interleaved (OFF and ON alternate which goes first):
  "tracked": the ON table holds only wrk's source (the VIP gateway address);
  "full": the ON table is first filled to its size (1,000,000) with other sources through the
  runtime API (`set table st_<listener> key <ip> data.conn_cur 0`, pipelined on one stats
  socket connection), and `used:` of `show table` is read before and after every ON case.
  With more than 10,000 entries, the status observer's per-second protection read becomes
  filtered scans of the whole table: its time is measured too (`observer_read`);
  "full-paused": the same full table, with the server process stopped (SIGSTOP) during each
  case, OFF and ON alike, so that no observer read happens: what the scans cost, apart from
  what a large table costs.
- Load: wrk -t2 -c50, keep-alive and `Connection: close`, like bench.throughput; the figure is
  the median over rounds; requests per CPU-second of wrk + load balancer + backend as well.

    python -m bench.protection_throughput [--rounds 7] [--duration 5] [--fill 1000000]
                                          [--no-paused-control]
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from bench import wrk
from bench.common import (
    appliance_info,
    log_report,
    machine_facts,
    print_rows,
    server_log,
    steelyard_server,
    write_result,
)
from bench.haproxy_proc import descendants, netns_pids, wait_http
from bench.lb import full_lb_body, wait_status
from bench.throughput import CONNECTIONS, THREADS, Target, _backend, _case
from steelyard.agent.protection_stats import parse_tables
from steelyard.agent.runtime_api import RuntimeApi
from tests.e2e.agent_access import agent_for, appliance_of
from tests.e2e.harness import ServerHandle
from tests.e2e.lbtools import create_lb

NAME = "protection_throughput"
GOAL_RATIO = 0.95
TABLE_SIZE = 1_000_000
# Limits that never trigger: wrk sends at most ~40k req/s and opens 50 connections.
PROTECTION_ON: dict[str, Any] = {
    "req_rate_per_source": 10_000_000,
    "req_rate_period_s": 10,
    "conn_rate_per_source": 10_000_000,
    "conn_rate_period_s": 3600,
    "max_conn_per_source": 100_000,
    "table_size": TABLE_SIZE,
    "action": "http_429",
}
FILL_BOUND_S = 120.0
MODES = (("keep-alive", False), ("close", True))


class Appliance:
    """One load balancer's appliance: its VIP, namespace, runtime API and config."""

    def __init__(self, server: ServerHandle, lb: dict[str, Any]) -> None:
        info = appliance_info(server, lb["id"])
        if info.netns is None:
            raise RuntimeError("the benchmark needs the netns driver")
        self.lb_id, self.vip, self.netns = lb["id"], lb["vip_address"], info.netns
        self.listener_id = lb["listeners"][0]["id"]
        self.socket = Path(info.paths.stats_socket)
        self.runtime = RuntimeApi(self.socket, timeout=30)
        self.config = (self.socket.parent / "haproxy.cfg").read_text()

    @property
    def table(self) -> str:
        return f"st_{self.listener_id}"

    def table_used(self) -> int | None:
        """`used:` of the listener's source table (`show table` without a name: no walk)."""
        for table in parse_tables(self.runtime.command("show table")):
            if table.kind == "st" and table.listener_id == self.listener_id:
                return table.used
        return None


def _make_lb(server: ServerHandle, ports: list[int], name: str, protection: Any) -> Appliance:
    with server.api() as api:
        members = {f"m{i}": port for i, port in enumerate(ports, 1)}
        body = full_lb_body(server.member_host, members, name=name)
        if protection is not None:
            body["loadbalancer"]["listeners"][0]["protection"] = protection
        lb = create_lb(api, body)
        wait_status(api, lb["id"], "ACTIVE")
        if not lb.get("listeners"):
            lb["listeners"] = api.get(
                "/v2/lbaas/listeners", params={"loadbalancer_id": lb["id"]}
            ).json()["listeners"]
    appliance = Appliance(server, lb)
    wait_http(appliance.vip, 80)
    return appliance


def _source(index: int) -> str:
    """The index-th filler source: 10.0.0.1 upwards (table keys only, never sent to)."""
    return f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"


def fill_table(appliance: Appliance, count: int) -> dict[str, Any]:
    """Add `count` sources to the ON table through the runtime API: one connection in
    interactive mode (`prompt`), commands pipelined, answers drained by a second thread."""
    prompts, other = [0], [""]
    started = time.perf_counter()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(FILL_BOUND_S)
        sock.connect(str(appliance.socket))

        def drain() -> None:
            tail = b""
            while chunk := sock.recv(1 << 20):
                data = tail + chunk
                prompts[0] += data.count(b"> ") - tail.count(b"> ")
                text = data.replace(b"> ", b"").strip()
                if text and not other[0]:
                    other[0] = text[:300].decode(errors="replace")
                tail = data[-1:]

        reader = threading.Thread(target=drain, name="fill-reader", daemon=True)
        reader.start()
        sock.sendall(b"prompt\n")
        batch: list[str] = []
        for index in range(1, count + 1):
            batch.append(f"set table {appliance.table} key {_source(index)} data.conn_cur 0\n")
            if len(batch) == 2000 or index == count:
                sock.sendall("".join(batch).encode())
                batch = []
            if time.perf_counter() - started > FILL_BOUND_S:
                raise TimeoutError(f"filling the table took over {FILL_BOUND_S} s")
        sock.sendall(b"quit\n")
        reader.join(FILL_BOUND_S)
    return {
        "commands": count,
        "seconds": round(time.perf_counter() - started, 2),
        "answers": prompts[0] - 1,  # the `prompt` command's own
        "unexpected_answer": other[0] or None,
    }


def observer_read(server: ServerHandle, appliance: Appliance, times: int = 3) -> dict[str, Any]:
    """What the status observer's per-second protection read costs: the agent's endpoint (as
    the observer calls it) and, for a table over 10,000 entries, one filtered scan alone."""
    with agent_for(server) as agent:
        endpoint = []
        for _ in range(times):
            started = time.perf_counter()
            agent.protection_stats(appliance_of(appliance.lb_id))
            endpoint.append(round((time.perf_counter() - started) * 1000, 1))
    started = time.perf_counter()
    appliance.runtime.command(f"show table {appliance.table} data.conn_cur gt 100000")
    scan_ms = round((time.perf_counter() - started) * 1000, 1)
    return {"agent_endpoint_ms": endpoint, "one_filtered_scan_ms": scan_ms}


@contextmanager
def paused(server: ServerHandle, pause: bool) -> Iterator[None]:
    """With `pause`, the server process (API, reconciler, status observer) is stopped
    (SIGSTOP) meanwhile; the agent and HAProxy run on. The observer's reads are then absent."""
    if pause:
        os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        if pause:
            os.kill(server.process.pid, signal.SIGCONT)


def run_phase(
    phase: str,
    targets: dict[str, Target],
    on: Appliance,
    args: argparse.Namespace,
    server: ServerHandle,
    pause: bool = False,
) -> list[dict[str, Any]]:
    """Every case `args.rounds` times, interleaved; OFF and ON swap order each round."""
    results = []
    for round_ in range(args.rounds):
        order = ("off", "on") if round_ % 2 == 0 else ("on", "off")
        for name in order:
            for mode, close in MODES:
                used_before = on.table_used() if name == "on" else None
                with paused(server, pause):
                    result = _case(targets[name], close, args.duration)
                if name == "on":
                    result["table_used"] = [used_before, on.table_used()]
                result.update(phase=phase, target=name, mode=mode, round=round_)
                results.append(result)
                print(
                    f"{phase:11s} round {round_} {name:3s} {mode:10s} "
                    f"{result['requests_per_s']:9,.0f} req/s  p99 "
                    f"{result['latency_ms'].get('p99', 0):7.2f} ms  errors "
                    f"{sum(result['errors'].values())}  cpu {result['cpu_s']}"
                    + (f"  table used {result['table_used']}" if name == "on" else "")
                )
                time.sleep(1)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--duration", type=int, default=5, help="seconds per case")
    parser.add_argument(
        "--fill", type=int, default=TABLE_SIZE, help="sources in the ON table (0: no full phase)"
    )
    parser.add_argument(
        "--no-paused-control",
        dest="paused_control",
        action="store_false",
        help="skip the full-table phase with the server (its status observer) stopped",
    )
    args = parser.parse_args()
    if not 0 <= args.fill <= TABLE_SIZE:
        parser.error(f"--fill must be within 0..{TABLE_SIZE}")
    wrk.require_wrk()
    facts = machine_facts()
    samples: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    work = Path(tempfile.mkdtemp(prefix="sybench-pt-"))
    try:
        with ExitStack() as stack:
            server = stack.enter_context(steelyard_server())
            ports, backend = _backend(work, server.member_host, stack)
            backend_pids = descendants(backend.pid)
            off = _make_lb(server, ports, "off", None)
            on = _make_lb(server, ports, "on", PROTECTION_ON)
            targets = {
                name: Target(
                    name, f"http://{a.vip}:80/", partial(netns_pids, a.netns), backend_pids
                )
                for name, a in (("off", off), ("on", on))
            }
            extra["configs"] = {"off": off.config, "on": on.config}
            extra["observer_read"] = {"tracked": observer_read(server, on)}
            samples += run_phase("tracked", targets, on, args, server)
            # Which sources the ON table held (wrk's, plus any the set-up made): a few lines.
            extra["tracked_table"] = on.runtime.command(f"show table {on.table}").splitlines()[:20]
            if args.fill:
                used = on.table_used() or 0
                fill = fill_table(on, max(0, args.fill - used))
                fill["used_after"] = on.table_used()
                extra["fill"] = fill
                print(f"filled: {fill}")
                extra["observer_read"]["full"] = observer_read(server, on)
                print(f"observer read: {extra['observer_read']}")
                samples += run_phase("full", targets, on, args, server)
                if args.paused_control:
                    samples += run_phase("full-paused", targets, on, args, server, pause=True)
            log = server_log(server)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(facts, args, samples, extra, log)


def _median(runs: list[dict[str, Any]], metric: str) -> float | None:
    values = [r[metric] for r in runs if r.get(metric) is not None]
    return round(statistics.median(values), 1) if values else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def figures(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Per phase and mode: medians of OFF and ON, and ON / OFF."""
    out: dict[str, Any] = {}
    for phase in dict.fromkeys(s["phase"] for s in samples):
        for mode, _ in MODES:

            def runs(target: str, mode: str = mode, phase: str = phase) -> list[dict[str, Any]]:
                return [
                    s
                    for s in samples
                    if (s["phase"], s["mode"], s["target"]) == (phase, mode, target)
                ]

            entry: dict[str, Any] = {}
            for metric in ("requests_per_s", "requests_per_cpu_s"):
                off, on = _median(runs("off"), metric), _median(runs("on"), metric)
                entry[metric] = {"off": off, "on": on, "on_vs_off": _ratio(on, off)}
                # Each round's ON and OFF ran back to back: their ratio drifts less with the
                # load others put on the cores than the ratio of the medians.
                per_round = [
                    _ratio(a[metric], b[metric])
                    for a, b in zip(runs("on"), runs("off"), strict=True)
                ]
                entry[metric]["on_vs_off_per_round"] = per_round
                entry[metric]["on_vs_off_median_per_round"] = statistics.median(
                    r for r in per_round if r is not None
                )
            rps = {t: [r["requests_per_s"] for r in runs(t)] for t in ("off", "on")}
            entry["rps_min_max"] = {t: [min(v), max(v)] for t, v in rps.items()}
            entry["p99_ms_median"] = {
                t: statistics.median(r["latency_ms"].get("p99", 0.0) for r in runs(t))
                for t in ("off", "on")
            }
            entry["p50_ms_median"] = {
                t: statistics.median(r["latency_ms"].get("p50", 0.0) for r in runs(t))
                for t in ("off", "on")
            }
            entry["errors"] = {
                t: sum(sum(r["errors"].values()) for r in runs(t)) for t in ("off", "on")
            }
            used = [u for r in runs("on") for u in r.get("table_used", []) if u is not None]
            entry["on_table_used"] = [min(used), max(used)] if used else None
            out[f"{phase}/{mode}"] = entry
    return out


def report(
    facts: dict[str, Any],
    args: argparse.Namespace,
    samples: list[dict[str, Any]],
    extra: dict[str, Any],
    log: list[str],
) -> None:
    found = figures(samples)
    print(f"\nwrk -t{THREADS} -c{CONNECTIONS}, median of {args.rounds} x {args.duration} s")
    print("ON/OFF: ratio of the medians; rounds: median of the per-round ratios")
    print_rows(
        ["phase/mode", "table used", "OFF req/s", "ON req/s", "ON/OFF", "rounds",
         "OFF req/cpu-s", "ON req/cpu-s", "ON/OFF", "rounds", "p99 ms OFF", "p99 ms ON",
         "errors"],
        [
            [key, f"{e['on_table_used']}", e["requests_per_s"]["off"], e["requests_per_s"]["on"],
             e["requests_per_s"]["on_vs_off"], e["requests_per_s"]["on_vs_off_median_per_round"],
             e["requests_per_cpu_s"]["off"], e["requests_per_cpu_s"]["on"],
             e["requests_per_cpu_s"]["on_vs_off"],
             e["requests_per_cpu_s"]["on_vs_off_median_per_round"],
             e["p99_ms_median"]["off"], e["p99_ms_median"]["on"],
             e["errors"]["off"] + e["errors"]["on"]]
            for key, e in found.items()
        ],
    )  # fmt: skip
    verdicts = {
        key: {
            metric: (e[metric]["on_vs_off"] or 0) >= GOAL_RATIO
            for metric in ("requests_per_s", "requests_per_cpu_s")
        }
        for key, e in found.items()
    }
    for key, verdict in verdicts.items():
        print(
            f"goal ON >= {GOAL_RATIO} x OFF, {key}: req/s "
            f"{'met' if verdict['requests_per_s'] else 'NOT met'}, per CPU-second "
            f"{'met' if verdict['requests_per_cpu_s'] else 'NOT met'}"
        )
    write_result(
        NAME,
        facts,
        {
            "what": "req/s through one Steelyard load balancer with listener protection ON "
            "(limits that never trigger) vs OFF; ON with the source table nearly empty and full",
            "method": {
                "load": f"wrk -t{THREADS} -c{CONNECTIONS} -d{args.duration}s --latency, "
                "keep-alive and -H 'Connection: close'",
                "rounds": args.rounds,
                "figure": "median over rounds; OFF and ON interleaved, order swapped each round",
                "on": PROTECTION_ON,
                "off": "no protection (same load balancer spec otherwise)",
                "phases": {
                    "tracked": "ON table holds wrk's one source",
                    "full": f"ON table pre-filled to {args.fill} sources via the runtime API",
                    "full-paused": "as full, with the server process stopped (SIGSTOP) during "
                    "each case, OFF and ON alike: no status observer reads (filtered scans of "
                    "the whole table); a control for what the scans cost",
                },
                "requests_per_cpu_s": "requests / CPU seconds of wrk + load balancer + backend",
                "backend": "plain haproxy (bench.throughput), nbthread 1, 3 ports",
            },
            "goal": {"on_vs_off_min": GOAL_RATIO, "met": verdicts},
            "figures": found,
            **extra,
            "server_log": log_report(log),
            "samples": samples,
        },
    )


if __name__ == "__main__":
    main()
