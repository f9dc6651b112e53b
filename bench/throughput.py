"""Benchmark 3: HAProxy throughput through a Steelyard load balancer vs the backend direct, and
vs Octavia 19's haproxy.cfg for the same spec, in one run.

- Backend: a separate plain HAProxy on this host, bound on the VIP network's gateway address
  (three ports, one per member), answering `http-request return status 200 ... string ok`.
- Steelyard: HTTP:80 -> ROUND_ROBIN over those three ports, HTTP monitor; its appliance (netns
  driver, nbthread 1, maxconn 5000). Two servers side by side: `steelyard` with connection
  logging (the default: a flow log row per request, agent -> collector -> SQLite) and
  `steelyard-nolog` (`serve --no-connection-logging`, like for like with Octavia's config),
  each with its own backend (the same config, on its own bridge's gateway).
- Octavia: octavia_render.py's config for the same spec (connection_limit 5000 -> maxconn 5000,
  --no-connection-logging) run as `haproxy -W -db` with the amphora's `-f user-group -L peer`,
  in a namespace on the same bridge (bench.octavia_peer). As rendered it has no `nbthread`, so
  HAProxy 2.6 starts one thread per CPU (2 here); a second copy with `nbthread 1` appended (as
  Steelyard's) separates the thread count from the rest of the config.
- Load: wrk, THREADS threads, CONNECTIONS connections, DURATION_S per case; keep-alive and
  `Connection: close`; every case --rounds times (5), interleaved; the figure is the median.

    python -m bench.throughput [--rounds 3] [--duration 5]
"""

import argparse
import ipaddress
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

from bench import octavia_peer, wrk
from bench.common import (
    log_report,
    machine_facts,
    print_rows,
    server_log,
    steelyard_server,
    write_result,
)
from bench.haproxy_proc import cpu_seconds, descendants, haproxy, netns_pids, wait_http
from bench.lb import HEALTH_MONITOR, full_lb_body, wait_status
from steelyard.server.local_agent import free_port
from tests.e2e.harness import ServerHandle
from tests.e2e.lbtools import create_lb

NAME = "throughput"
GOAL_RATIO = 0.40
LOGGING_GOAL_RATIO = 0.80  # throughput with connection logging / without
_DROPPED = re.compile(r"the agent dropped (\d+) log records unread")
THREADS, CONNECTIONS = 2, 50
MAXCONN = 5000  # Steelyard's default global and listener maxconn; Octavia gets the same

BACKEND_CFG = """\
global
    maxconn {maxconn}
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend backend
{binds}
    http-request return status 200 content-type text/plain string ok
"""


class Target:
    def __init__(
        self,
        name: str,
        url: str,
        pids: Callable[[], list[int]],
        backend_pids: list[int],
        server_pid: int | None = None,
    ) -> None:
        self.name, self.url, self.pids, self.backend_pids = name, url, pids, backend_pids
        self.server_pid = server_pid  # a Steelyard server: its process tree but the appliance

    def control_pids(self, lb_pids: list[int]) -> list[int]:
        """The Steelyard server's and agent's processes (the flow log pipeline runs there)."""
        if self.server_pid is None:
            return []
        return sorted(set(descendants(self.server_pid)) - set(lb_pids))


def _backend(work: Path, host: str, stack: ExitStack) -> tuple[list[int], subprocess.Popen[bytes]]:
    ports = [free_port(host) for _ in range(3)]
    config = work / "backend.cfg"
    binds = "\n".join(f"    bind {host}:{port}" for port in ports)
    config.write_text(BACKEND_CFG.format(maxconn=MAXCONN, binds=binds))
    process = stack.enter_context(haproxy([config]))
    wait_http(host, ports[0], process)
    return ports, process


def _steelyard(server: ServerHandle, ports: list[int]) -> tuple[str, str, str]:
    """VIP, appliance namespace and haproxy.cfg of a new load balancer over `ports`."""
    with server.api() as api:
        members = {f"m{i}": port for i, port in enumerate(ports, 1)}
        lb = create_lb(api, full_lb_body(server.member_host, members))
        wait_status(api, lb["id"], "ACTIVE")
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    netns = next(
        line.split()[0] for line in namespaces.splitlines() if line.startswith(server.prefix + "-")
    )
    config = next(server.state_dir.rglob("haproxy.cfg")).read_text()
    return lb["vip_address"], netns, config


def _octavia(
    server: ServerHandle, ports: list[int], backend_pids: list[int], work: Path, stack: ExitStack
) -> tuple[list[Target], dict[str, Any]]:
    """Octavia's config, as rendered and with nbthread 1, each in a namespace of its own."""
    net = ipaddress.ip_network(server.vip_cidr)
    bridge = octavia_peer.bridge_of(server.member_host)
    targets, info = [], {}
    for offset, (name, threads) in enumerate((("octavia", None), ("octavia-nbthread1", 1))):
        vip = str(net.broadcast_address - 1 - offset)  # top of the subnet: Steelyard allocates
        spec = {  # from the bottom
            "vip": vip,
            "listener": {"protocol": "HTTP", "protocol_port": 80, "connection_limit": MAXCONN},
            "pool": {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
            "members": [{"address": server.member_host, "protocol_port": p} for p in ports],
            "healthmonitor": HEALTH_MONITOR,
        }
        rendered = octavia_peer.render(spec, work / name)
        configs, extra = rendered.haproxy_args()
        if threads:
            override = work / name / "nbthread.cfg"
            override.write_text(f"global\n    nbthread {threads}\n")
            configs.append(override)
        netns = stack.enter_context(
            octavia_peer.namespace_on_bridge(bridge, f"{vip}/{net.prefixlen}")
        )
        process = stack.enter_context(haproxy(configs, extra, netns))
        wait_http(vip, 80, process)
        targets.append(Target(name, f"http://{vip}:80/", partial(netns_pids, netns), backend_pids))
        info[name] = {
            "config": rendered.config.read_text(),
            "extra_config": f"global nbthread {threads}" if threads else None,
            "command": ["haproxy", "-W", "-db", *(f"-f {c}" for c in configs), *extra],
            "netns": netns,
            "vip": vip,
        }
    return targets, info


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _case(target: Target, close: bool, duration: int) -> dict[str, Any]:
    lb_pids, backend_pids = target.pids(), target.backend_pids
    control_pids = target.control_pids(lb_pids)
    before = (cpu_seconds(lb_pids), cpu_seconds(backend_pids), _children_cpu())
    control_before = cpu_seconds(control_pids)
    result = wrk.run(
        target.url, close=close, duration_s=duration, threads=THREADS, connections=CONNECTIONS
    )
    after = (cpu_seconds(lb_pids), cpu_seconds(backend_pids), _children_cpu())
    result["cpu_s"] = {
        "load_balancer": round(after[0] - before[0], 2) if lb_pids else None,
        "backend": round(after[1] - before[1], 2),
        "wrk": round(after[2] - before[2], 2),
    }
    if control_pids:  # not in requests_per_cpu_s (comparable with direct and Octavia)
        result["cpu_s"]["steelyard_server_and_agent"] = round(
            cpu_seconds(control_pids) - control_before, 2
        )
    # The whole pipeline's cost per request: steadier than req/s when others share the cores.
    # (Without the Steelyard server and its agent: their log pipeline shows in req/s.)
    spent = sum(after) - sum(before)
    result["requests_per_cpu_s"] = round(result["requests"] / spent, 1) if spent > 0 else None
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5, help="seconds per case")
    args = parser.parse_args()
    wrk.require_wrk()
    facts = machine_facts()
    work = Path(tempfile.mkdtemp(prefix="sybench-tp-"))
    samples: dict[str, list[dict[str, Any]]] = {}
    octavia: dict[str, Any] = {}
    try:
        with ExitStack() as stack:
            server = stack.enter_context(steelyard_server())
            ports, backend = _backend(work, server.member_host, stack)
            backend_pids = descendants(backend.pid)
            vip, netns, steelyard_cfg = _steelyard(server, ports)
            wait_http(vip, 80)
            quiet = stack.enter_context(steelyard_server(["--no-connection-logging"]))
            quiet_ports, quiet_backend = _backend(work, quiet.member_host, stack)
            quiet_vip, quiet_netns, quiet_cfg = _steelyard(quiet, quiet_ports)
            wait_http(quiet_vip, 80)
            targets = [
                Target(
                    "direct", f"http://{server.member_host}:{ports[0]}/", lambda: [], backend_pids
                ),
                Target(
                    "steelyard",
                    f"http://{vip}:80/",
                    lambda: netns_pids(netns),
                    backend_pids,
                    server.process.pid,
                ),
                Target(
                    "steelyard-nolog",
                    f"http://{quiet_vip}:80/",
                    lambda: netns_pids(quiet_netns),
                    descendants(quiet_backend.pid),
                    quiet.process.pid,
                ),
            ]
            try:
                octavia_targets, octavia = _octavia(server, ports, backend_pids, work, stack)
                targets += octavia_targets
            except (octavia_peer.PeerUnavailable, RuntimeError, OSError) as exc:
                octavia = {"unavailable": str(exc)}
                print(f"Octavia peer unavailable: {exc}")
            for round_ in range(args.rounds):
                for target in targets:
                    for close in (False, True):
                        key = f"{target.name}/{'close' if close else 'keep-alive'}"
                        result = _case(target, close, args.duration)
                        samples.setdefault(key, []).append(result)
                        print(
                            f"round {round_} {key:30s} {result['requests_per_s']:10,.0f} req/s"
                            f"  errors {sum(result['errors'].values())}  cpu {result['cpu_s']}"
                        )
                        time.sleep(1)
            log = server_log(server)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(facts, args, samples, octavia, {"steelyard": steelyard_cfg, "nolog": quiet_cfg}, log)


def _median(samples: dict[str, list[dict[str, Any]]], key: str, metric: str) -> float | None:
    runs = samples.get(key)
    return round(statistics.median(r[metric] for r in runs), 1) if runs else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def _figures(samples: dict[str, list[dict[str, Any]]], metric: str) -> dict[str, Any]:
    """Per mode: the median of `metric` for each target and the ratios the issue asks for."""
    figures: dict[str, Any] = {}
    for mode in ("keep-alive", "close"):
        direct = _median(samples, f"direct/{mode}", metric)
        steelyard = _median(samples, f"steelyard/{mode}", metric)
        nolog = _median(samples, f"steelyard-nolog/{mode}", metric)
        entry: dict[str, Any] = {
            "direct": direct,
            "steelyard": steelyard,
            "steelyard_vs_direct": _ratio(steelyard, direct),
            "steelyard-nolog": nolog,
            "steelyard-nolog_vs_direct": _ratio(nolog, direct),
            # What connection logging costs: with it / without it.
            "steelyard_vs_steelyard-nolog": _ratio(steelyard, nolog),
            "steelyard-nolog_vs_octavia": _ratio(
                nolog, _median(samples, f"octavia/{mode}", metric)
            ),
        }
        for name in ("octavia", "octavia-nbthread1"):
            other = _median(samples, f"{name}/{mode}", metric)
            entry[name] = other
            entry[f"{name}_vs_direct"] = _ratio(other, direct)
            entry[f"steelyard_vs_{name}"] = _ratio(steelyard, other)
        figures[mode] = entry
    return figures


def _print_figures(title: str, figures: dict[str, Any]) -> None:
    print(f"\n{title}")
    print_rows(
        ["mode", "direct", "steelyard", "sy/direct", "sy-nolog", "nolog/direct", "sy/nolog",
         "octavia", "sy/oct", "nolog/oct", "oct nbt1", "sy/oct1"],
        [
            [mode, f["direct"], f["steelyard"], f["steelyard_vs_direct"], f["steelyard-nolog"],
             f["steelyard-nolog_vs_direct"], f["steelyard_vs_steelyard-nolog"], f["octavia"],
             f["steelyard_vs_octavia"], f["steelyard-nolog_vs_octavia"], f["octavia-nbthread1"],
             f["steelyard_vs_octavia-nbthread1"]]
            for mode, f in figures.items()
        ],
    )  # fmt: skip


def report(
    facts: dict[str, Any],
    args: argparse.Namespace,
    samples: dict[str, list[dict[str, Any]]],
    octavia: dict[str, Any],
    steelyard_cfgs: dict[str, str],
    log: list[str],
) -> None:
    figures = _figures(samples, "requests_per_s")
    per_cpu = _figures(samples, "requests_per_cpu_s")
    load = f"wrk -t{THREADS} -c{CONNECTIONS}, median of {args.rounds} x {args.duration} s"
    _print_figures(f"req/s ({load})", figures)
    _print_figures("requests per CPU-second of wrk + load balancer + backend", per_cpu)
    per_case = {
        key: {
            "median_rps": statistics.median(r["requests_per_s"] for r in runs),
            "min_rps": min(r["requests_per_s"] for r in runs),
            "max_rps": max(r["requests_per_s"] for r in runs),
            "median_p99_ms": statistics.median(r["latency_ms"].get("p99", 0.0) for r in runs),
            "median_requests_per_cpu_s": statistics.median(r["requests_per_cpu_s"] for r in runs),
            # How much of the 2 cores the run got (the rest went to other workloads).
            "median_cores_used": round(
                statistics.median(
                    sum(v or 0 for v in r["cpu_s"].values()) / r["duration_s"] for r in runs
                ),
                2,
            ),
            "errors": sum(sum(r["errors"].values()) for r in runs),
            # Cores the Steelyard server and agent took (the flow log pipeline), None elsewhere.
            "median_server_cores": _median_server_cores(runs),
        }
        for key, runs in samples.items()
    }
    print()
    print_rows(
        ["case", "median req/s", "min", "max", "p99 ms", "req/cpu-s", "cores", "server cores",
         "errors"],
        [
            [key, c["median_rps"], c["min_rps"], c["max_rps"], c["median_p99_ms"],
             c["median_requests_per_cpu_s"], c["median_cores_used"], c["median_server_cores"],
             c["errors"]]
            for key, c in per_case.items()
        ],
    )  # fmt: skip
    ratios = [figures[mode]["steelyard_vs_direct"] for mode in figures]
    met = all(r is not None and r >= GOAL_RATIO for r in ratios)
    verdict = "met" if met else "NOT met"
    print(f"goal: steelyard >= {GOAL_RATIO:.2f} x direct in both modes: {verdict}")
    logging_ratios = [figures[mode]["steelyard_vs_steelyard-nolog"] for mode in figures]
    logging_met = all(r is not None and r >= LOGGING_GOAL_RATIO for r in logging_ratios)
    print(
        f"goal: with connection logging >= {LOGGING_GOAL_RATIO:.2f} x without, both modes: "
        f"{'met' if logging_met else 'NOT met'}"
    )
    dropped = agent_dropped(log)
    print(f"flow log records the agent dropped unread (server with logging): {dropped}")
    if "unavailable" in octavia:
        print(f"Octavia peer: unavailable ({octavia['unavailable']})")
    write_result(
        NAME,
        facts,
        {
            "what": "req/s through the LB vs the backend direct; Octavia 19's config side by side",
            "method": {
                "load": f"wrk -t{THREADS} -c{CONNECTIONS} -d{args.duration}s --latency, "
                "keep-alive and -H 'Connection: close'",
                "rounds": args.rounds,
                "figure": "median over rounds; cases interleaved",
                "requests_per_cpu_s": "requests / CPU seconds used by wrk + load balancer + "
                "backend in that case (from /proc and getrusage): the cost per request, which "
                "does not depend on how much CPU other workloads left to the run",
                "backend": "plain haproxy, nbthread 1, 3 ports on the VIP gateway address, "
                "`http-request return status 200`",
                "steelyard": "netns appliance, as rendered by Steelyard (nbthread 1, maxconn "
                f"{MAXCONN}), connection logging on (the default): every request a flow log row",
                "steelyard-nolog": "the same on a second server run with "
                "--no-connection-logging (admin logs only), its own backend of the same config",
                "octavia": "octavia_render.py (Octavia 19.0.0 JinjaTemplater), connection_limit "
                f"{MAXCONN}, --no-connection-logging, own namespace on the same bridge, "
                "haproxy -W -db -f cfg -f user-group -L peer; as rendered (no nbthread: 2 threads"
                " here) and with `nbthread 1` appended",
            },
            "goal": {
                "steelyard_vs_direct_min": GOAL_RATIO,
                "met": met,
                "logging_vs_nolog_min": LOGGING_GOAL_RATIO,
                "logging_met": logging_met,
            },
            "agent_dropped_log_records": dropped,
            "figures": {"requests_per_s": figures, "requests_per_cpu_s": per_cpu},
            "per_case": per_case,
            "octavia": octavia,
            "steelyard_config": steelyard_cfgs["steelyard"],
            "steelyard_nolog_config": steelyard_cfgs["nolog"],
            "server_log": log_report(log),
            "samples": samples,
        },
    )


def _median_server_cores(runs: list[dict[str, Any]]) -> float | None:
    cores: list[float] = []
    for run in runs:
        spent = run["cpu_s"].get("steelyard_server_and_agent")
        if spent is None:
            return None
        cores.append(spent / run["duration_s"])
    return round(statistics.median(cores), 2)


def agent_dropped(log: list[str]) -> int:
    """The last count of records the agent's buffers evicted unread (the collector logs it)."""
    counts = [int(match[1]) for line in log if (match := _DROPPED.search(line))]
    return counts[-1] if counts else 0


if __name__ == "__main__":
    main()
