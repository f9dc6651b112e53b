"""Benchmark: health manager ingest on one core.

A real HealthManager (UDP receiver, batched SQLite writes, statuses and counters from the rows
through controller.observer.HeartbeatStatuses, staleness checks) runs in this process, pinned
to CPU 0 with os.sched_setaffinity (its threads inherit it) and, as root, at nice -15 so that
other work on a shared machine takes less of that core. The database holds --appliances
load balancers, each with one listener, one pool of --members members, and one ALLOCATED
appliance. A sender process, pinned to CPU 1, signs and sends heartbeats with --members
member rows each (prepared once per appliance, then given the next sequence number and signed
again for each send), round robin over the appliances: first --warmup seconds at one per
appliance and second (every load balancer's statuses are computed for the first time then, a
spec read each; reported, not judged), then each rate of --rates for --duration seconds,
without a pause between rates (a pause would silence every appliance).

Figures per rate: heartbeats sent and accepted (taken when the sender reports the end of the
rate, so a step's count may include a few of the next), datagrams the kernel dropped on the
receiver's socket (/proc/net/udp: exact per step), CPU seconds of the receiver, worker and
status threads, and accepted per CPU-second of the whole process. Loss over the whole run =
sent - accepted, after the socket is drained.
Stale appliances: at the middle of the step at --stop-at-rate, the sender stops --stop of
them for good; after the last step the run checks that exactly those were declared FAILED
(and how long after their last heartbeat).

    python -m bench.health_ingest [--appliances 2000] [--rates 5000,10000,15000,20000]

The goal is judged on the step at 10,000/s: the sender kept the rate, no datagram dropped,
less than 0.2 s of traffic still queued on the socket when the step ended (a receiver that
cannot keep up builds a queue until the kernel drops), every stopped appliance declared FAILED
and no other. Rates above it show where the ceiling is;
their drops are reported, not hidden, and count in the run's total.
"""

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from bench.common import machine_facts, write_result
from steelyard.controller.observer import HeartbeatStatuses
from steelyard.db import models as m
from steelyard.db.engine import make_engine, make_read_sessionmaker, make_sessionmaker, sqlite_url
from steelyard.db.migrate import upgrade
from steelyard.health.manager import HealthManager, HealthSettings
from steelyard.health.staleness import HealthPolicy
from steelyard.model.heartbeat import (
    HEADER,
    Heartbeat,
    HeartbeatKey,
    Keyring,
    ProxyRow,
    StatTable,
    decode,
    encode,
)

NAME = "health_ingest"
GOAL_PER_S = 10_000
MAX_QUEUED_S = 0.2  # at the end of the goal's step, at most this much traffic not yet taken
RECEIVER_CPU, SENDER_CPU = 0, 1
NICE = -15  # threads inherit it from the thread that starts them
SEQ_AND_TIME = struct.Struct("<Qd")  # the first fields of a heartbeat's payload
T0 = datetime(2026, 1, 1)


def isolate(cpu: int) -> None:
    """Pin this thread (and the threads it starts later) to `cpu`, and, as root, raise its
    priority so that other work on a shared machine takes less of that core: the figures are
    then about the health manager, not about its neighbours. With autogroup scheduling a
    thread's nice only counts within its session's group, so the group is raised too (the
    receiver starts its own session first; the sender, its child, shares it)."""
    os.sched_setaffinity(0, {cpu})
    if os.geteuid() != 0:
        return
    os.setpriority(os.PRIO_PROCESS, 0, NICE)
    with contextlib.suppress(OSError):
        os.setsid()  # fails for a session leader: then it has its own group already
    with contextlib.suppress(OSError):  # no autogroup scheduling on this kernel
        Path("/proc/self/autogroup").write_text(f"{NICE}\n")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Fleet:
    """What the sender needs to know of each appliance: its name and the ids in its rows."""

    names: list[str]
    listeners: list[str]
    pools: list[str]
    members: list[list[str]]


def populate(sessions: sessionmaker[Session], appliances: int, members: int) -> Fleet:
    fleet = Fleet([], [], [], [])
    common = {"project_id": "bench", "provisioning_status": "ACTIVE", "created_at": T0}
    net, sub = str(uuid.uuid4()), str(uuid.uuid4())
    rows: dict[type[m.Base], list[dict[str, Any]]] = {
        m.LoadBalancer: [],
        m.Pool: [],
        m.Listener: [],
        m.Member: [],
        m.Appliance: [],
    }
    for index in range(appliances):
        lb, listener, pool = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
        name = lb.replace("-", "")[:12] + "-0"
        ids = [str(uuid.uuid4()) for _ in range(members)]
        fleet.names.append(name)
        fleet.listeners.append(listener)
        fleet.pools.append(pool)
        fleet.members.append(ids)
        rows[m.LoadBalancer].append(
            {
                "id": lb,
                "operating_status": "OFFLINE",
                "vip_address": f"198.18.{index // 250}.{index % 250 + 2}",
                "vip_network_id": net,
                "vip_subnet_id": sub,
                "vip_port_id": str(uuid.uuid4()),
                "desired_generation": 1,
                "applied_generation": 1,
                **common,
            }
        )
        rows[m.Pool].append(
            {
                "id": pool,
                "loadbalancer_id": lb,
                "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN",
                "operating_status": "OFFLINE",
                **common,
            }
        )
        rows[m.Listener].append(
            {
                "id": listener,
                "loadbalancer_id": lb,
                "protocol": "HTTP",
                "protocol_port": 80,
                "default_pool_id": pool,
                "operating_status": "OFFLINE",
                **common,
            }
        )
        rows[m.Member].extend(
            {
                "id": member,
                "pool_id": pool,
                "address": f"198.18.200.{n + 1}",
                "protocol_port": 8080,
                "operating_status": "OFFLINE",
                **common,
            }
            for n, member in enumerate(ids)
        )
        rows[m.Appliance].append(
            {
                "id": str(uuid.uuid4()),
                "loadbalancer_id": lb,
                "name": name,
                "status": "ALLOCATED",
                "compute_driver": "netns",
                "host": "bench",
                "vip_address": "198.18.0.2",
                "applied_generation": 1,
                "created_at": T0,
            }
        )
    with sessions() as session:
        session.add(
            m.Network(id=net, name="bench", project_id="bench", kind="bridge", created_at=T0)
        )
        session.flush()
        session.add(
            m.Subnet(id=sub, network_id=net, cidr="198.18.0.0/15", ip_version=4, created_at=T0)
        )
        session.flush()
        for table, values in rows.items():
            session.execute(insert(table), values)
        session.commit()
    return fleet


# ---- the sender (a child process) -------------------------------------------------------


def sender_main(config: dict[str, Any]) -> None:
    isolate(SENDER_CPU)
    key = HeartbeatKey(bytes.fromhex(config["key"]))
    fleet = Fleet(**config["fleet"])
    target = ("127.0.0.1", config["port"])
    tables = [
        StatTable.from_rows(
            [
                ProxyRow(listener, "FRONTEND", "OPEN", None, 3, 1000, 10**6, 10**7),
                *(ProxyRow(pool, member, "no check", 1, 0, 50, 5000, 50000) for member in members),
                ProxyRow(pool, "BACKEND", "UP", len(members), 3, 1000, 10**6, 10**7),
            ]
        )
        for listener, pool, members in zip(fleet.listeners, fleet.pools, fleet.members, strict=True)
    ]
    count = len(fleet.names)
    seq = [0] * count
    stopped: set[int] = set()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)

    # Each appliance's datagram is encoded once; every send writes the next sequence number
    # and the time into it and signs it again, as `encode` would (checked below), so that one
    # sender process outruns the receiver.
    templates = [
        bytearray(encode(Heartbeat(name, 1, 1.0, 1, None, True, None, table), key))
        for name, table in zip(fleet.names, tables, strict=True)
    ]

    def beat(index: int) -> bytes:
        seq[index] += 1
        datagram = templates[index]
        SEQ_AND_TIME.pack_into(datagram, HEADER, seq[index], time.time())
        mac = hmac.new(key.secret, datagram[:2], hashlib.sha256)
        mac.update(memoryview(datagram)[HEADER:])
        datagram[2:HEADER] = mac.digest()
        return bytes(datagram)

    checked = decode(beat(0), Keyring([key]))
    if (checked.seq, checked.stats) != (1, tables[0]):
        raise SystemExit("the sender's datagrams do not decode as sent")

    def send(index: int) -> bool:
        try:
            sock.sendto(beat(index), target)
        except OSError:  # the send buffer is full: counted, not retried
            return False
        return True

    cursor = 0
    for step, (rate, duration) in enumerate(zip(config["rates"], config["durations"], strict=True)):
        sent = send_errors = 0
        started = time.monotonic()
        end = started + duration
        stop_at = started + duration / 2 if rate == config["stop_at_rate"] and step else None
        while (now := time.monotonic()) < end:
            if stop_at is not None and now >= stop_at:
                stopped = set(range(0, count, count // config["stop"]))
                names = [fleet.names[i] for i in sorted(stopped)]
                print(json.dumps({"stopped": names}), flush=True)
                stop_at = None
            due = int((now - started) * rate) - sent - send_errors
            for _ in range(min(due, 200)):
                cursor = (cursor + 1) % count
                while cursor in stopped:
                    cursor = (cursor + 1) % count
                if send(cursor):
                    sent += 1
                else:
                    send_errors += 1
            if due <= 0:
                time.sleep(0.0005)
        report = {"step": step, "rate": rate, "sent": sent, "send_errors": send_errors}
        print(json.dumps({**report, "seconds": time.monotonic() - started}), flush=True)
    # Then one heartbeat per second from each appliance still alive, while the stopped ones
    # are judged.
    sent = 0
    for _ in range(int(config["tail"])):
        second = time.monotonic()
        sent += sum(send(index) for index in range(count) if index not in stopped)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - second)))
    print(json.dumps({"tail_sent": sent}), flush=True)


# ---- the receiver side -------------------------------------------------------------------


def udp_drops(port: int) -> int:
    """Datagrams the kernel dropped on the socket bound to `port` (/proc/net/udp)."""
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            return int(fields[-1])
    return 0


def thread_cpu(name: str) -> float:
    """CPU seconds (user + system) of this process's thread named `name`."""
    for thread in threading.enumerate():
        if thread.name == name and thread.native_id is not None:
            stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
            fields = stat[stat.rfind(")") + 2 :].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


@dataclass
class Snapshot:
    accepted: int
    replayed: int
    drops: int
    receiver_cpu: float
    worker_cpu: float
    process_cpu: float
    at: float


def snapshot(manager: HealthManager) -> Snapshot:
    counts = manager.ingest.counts()
    return Snapshot(
        accepted=counts.accepted,
        replayed=counts.replayed,
        drops=udp_drops(manager.address[1]),
        receiver_cpu=thread_cpu("heartbeat-receiver"),
        worker_cpu=sum(
            thread_cpu(name) for name in ("health-manager", "health-checks", "health-statuses")
        ),
        process_cpu=time.process_time(),
        at=time.monotonic(),
    )


def run_sender(config: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.health_ingest", "--sender"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )


def measure(args: argparse.Namespace) -> dict[str, Any]:
    isolate(RECEIVER_CPU)
    state = Path(tempfile.mkdtemp(prefix="sybench-health-"))
    engine = make_engine(sqlite_url(state))
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    started = time.monotonic()
    fleet = populate(sessions, args.appliances, args.members)
    print(f"database: {args.appliances} load balancers, {args.members} members each, "
          f"in {time.monotonic() - started:.1f} s")  # fmt: skip
    key = HeartbeatKey(secrets.token_bytes(32))
    failed_lbs: list[str] = []
    read_sessions = make_read_sessionmaker(engine)
    manager = HealthManager(
        sessions,
        Keyring([key]),
        HealthSettings(host="127.0.0.1", port=0, policy=HealthPolicy()),
        notify=failed_lbs.append,
        clock=utcnow,
        status_writer=HeartbeatStatuses(sessions, read_sessions),
        read_sessions=read_sessions,
    )
    manager.start()
    config = {
        "key": key.secret.hex(),
        "port": manager.address[1],
        "fleet": fleet.__dict__,
        # The warm-up: one heartbeat per appliance and second while every load balancer's
        # statuses are computed for the first time (a spec read each); not measured.
        "rates": [args.appliances, *args.rates],
        "durations": [args.warmup, *[args.duration] * len(args.rates)],
        "stop_at_rate": args.stop_at_rate,
        "stop": args.stop,
        "tail": args.tail,
    }
    sender = run_sender(config)
    assert sender.stdin is not None and sender.stdout is not None
    sender.stdin.write(json.dumps(config))
    sender.stdin.close()
    steps: list[dict[str, Any]] = []
    warmup: dict[str, Any] = {}
    tail_sent = sent_so_far = 0
    stopped: list[str] = []
    stopped_at: datetime | None = None
    before = first = snapshot(manager)
    try:
        for line in sender.stdout:
            message = json.loads(line)
            if "stopped" in message:
                stopped, stopped_at = message["stopped"], utcnow()
                continue
            if "tail_sent" in message:
                tail_sent = message["tail_sent"]
                break
            after = snapshot(manager)
            sent_so_far += message["sent"]
            figures = step_figures(message, before, after)
            # Still queued on the socket when the step ended (neither taken nor dropped yet).
            figures["queued_at_end"] = (
                sent_so_far - (after.accepted - first.accepted) - (after.drops - first.drops)
            )
            if message["step"] == 0:
                warmup = figures
                print("warm-up: ", end="")
            else:
                steps.append(figures)
            print_step(figures)
            before = after
        sender.wait()
        time.sleep(1.0)  # what is still queued on the socket
        end = snapshot(manager)
    finally:
        manager.stop()
    failed = failed_appliances(sessions)
    engine.dispose()
    sent_total = sum(step["sent"] for step in [warmup, *steps]) + tail_sent
    total = {
        "sent": sent_total,
        "accepted": end.accepted - first.accepted,
        "lost": sent_total - (end.accepted - first.accepted),
        "kernel_drops": end.drops - first.drops,
        "replayed": end.replayed - first.replayed,
    }
    print(
        f"total: sent {total['sent']}, accepted {total['accepted']}, lost {total['lost']} "
        f"(kernel drops {total['kernel_drops']})"
    )
    return {
        "total": total,
        "warmup": warmup,
        "steps": steps,
        "stale": stale_figures(stopped, stopped_at, failed),
        "counts": manager.ingest.counts().model_dump(),
        "notified_loadbalancers": len(failed_lbs),
    }


def step_figures(sent: dict[str, Any], before: Snapshot, after: Snapshot) -> dict[str, Any]:
    accepted = after.accepted - before.accepted
    wall = after.at - before.at
    cpu = after.process_cpu - before.process_cpu
    return {
        "rate": sent["rate"],
        "sent": sent["sent"],
        "send_errors": sent["send_errors"],
        "accepted": accepted,
        "replayed": after.replayed - before.replayed,
        "kernel_drops": after.drops - before.drops,  # exact: datagrams lost in this step
        "seconds": round(sent["seconds"], 3),
        "accepted_per_s": round(accepted / sent["seconds"]),
        "receiver_cpu_s": round(after.receiver_cpu - before.receiver_cpu, 2),
        "worker_cpu_s": round(after.worker_cpu - before.worker_cpu, 2),
        "process_cpu_s": round(cpu, 2),
        "core_busy": round(cpu / wall, 3),
        "accepted_per_cpu_s": round(accepted / cpu) if cpu else None,
    }


def print_step(step: dict[str, Any]) -> None:
    print(
        f"rate {step['rate']:>6}/s: sent {step['sent']:>7} accepted {step['accepted']:>7} "
        f"({step['accepted_per_s']:>6}/s) kernel drops {step['kernel_drops']:>5}, "
        f"core busy {step['core_busy'] * 100:.0f} % "
        f"(receiver {step['receiver_cpu_s']} s, worker {step['worker_cpu_s']} s), "
        f"{step['accepted_per_cpu_s']} accepted per CPU-second, "
        f"{step.get('queued_at_end', 0)} still queued at the end"
    )


def failed_appliances(sessions: sessionmaker[Session]) -> dict[str, dict[str, Any]]:
    with sessions() as session:
        rows = session.execute(
            select(
                m.Appliance.name,
                m.Appliance.failed_at,
                m.Appliance.last_heartbeat_at,
                m.Appliance.failed_reason,
            ).where(m.Appliance.status == "FAILED")
        ).all()
    return {
        name: {"failed_at": failed_at, "last_heartbeat_at": last, "reason": reason}
        for name, failed_at, last, reason in rows
    }


def stale_figures(
    stopped: list[str], stopped_at: datetime | None, failed: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    missed = sorted(set(stopped) - set(failed))
    false = sorted(set(failed) - set(stopped))
    after_last = [
        (f["failed_at"] - f["last_heartbeat_at"]).total_seconds()
        for name, f in failed.items()
        if name in stopped and f["last_heartbeat_at"] is not None
    ]
    after_stop = [
        (f["failed_at"] - stopped_at).total_seconds()
        for name, f in failed.items()
        if name in stopped and stopped_at is not None
    ]
    figures = {
        "stopped": len(stopped),
        "declared_failed": len(set(stopped) & set(failed)),
        "missed": missed,
        "falsely_failed": false,
        "failed_after_last_heartbeat_s": [round(x, 3) for x in sorted(after_last)],
        "failed_after_stop_s": [round(x, 3) for x in sorted(after_stop)],
    }
    print(
        f"stale: {figures['declared_failed']} of {len(stopped)} stopped appliances declared "
        f"FAILED ({len(missed)} missed, {len(false)} failed wrongly), "
        f"{min(after_last, default=0):.2f}-{max(after_last, default=0):.2f} s after their last "
        "heartbeat (timeout 3 s, checks every 0.5 s)"
    )
    return figures


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appliances", type=int, default=2000)
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument(
        "--rates",
        type=lambda text: [int(rate) for rate in text.split(",")],
        default=[5000, 10000, 15000, 20000],
    )
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per rate")
    parser.add_argument("--stop", type=int, default=5, help="appliances that stop sending")
    parser.add_argument("--stop-at-rate", type=int, default=GOAL_PER_S)
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds at 1/s/appliance")
    parser.add_argument("--tail", type=float, default=6.0, help="seconds sent after the rates")
    parser.add_argument("--sender", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.sender:
        sender_main(json.loads(sys.stdin.read()))
        return
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs two CPUs: the receiver on one, the sender on the other")
    facts = machine_facts()
    figures = measure(args)
    at_goal = [s for s in figures["steps"] if s["rate"] == GOAL_PER_S]
    goal_met = (
        bool(at_goal)
        and all(s["kernel_drops"] == 0 for s in at_goal)
        and all(s["sent"] >= GOAL_PER_S * s["seconds"] * 0.99 for s in at_goal)
        and all(s["queued_at_end"] < GOAL_PER_S * MAX_QUEUED_S for s in at_goal)
        and not figures["stale"]["missed"]
        and not figures["stale"]["falsely_failed"]
    )
    print(f"goal (>= {GOAL_PER_S}/s on one core, 0 dropped, no stale appliance missed): "
          f"{'met' if goal_met else 'NOT met'}")  # fmt: skip
    write_result(
        NAME,
        facts,
        {
            "what": "signed heartbeats into a real HealthManager with SQLite, receiver on one core",
            "method": __doc__,
            "goal": {"accepted_per_s": GOAL_PER_S, "lost": 0, "stale_missed": 0, "met": goal_met},
            "settings": {
                "appliances": args.appliances,
                "members": args.members,
                "rates": args.rates,
                "duration_s": args.duration,
                "timeout_s": 3.0,
            },
            **figures,
        },
    )


if __name__ == "__main__":
    main()
