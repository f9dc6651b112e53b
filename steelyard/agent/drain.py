"""Draining an appliance before a planned VIP handover, so that no request is lost.

When the VIP moves, the new MASTER has none of the old one's connections: the next packet of
any of them reaches the new MASTER and is answered with a reset. So before the old MASTER lets
the VIP go (`Appliance.release_vrrp`):

1. `new_connections_blocked`: an nftables table in the appliance's namespace drops every new
   TCP connection (a SYN without ACK) arriving from outside. Dropped, not refused: the client
   sends its SYN again after 1 s, and by then the VIP is on the new MASTER.
2. `drain_haproxy`: a reload with the same config puts every connection on old workers, which
   soft-stop: a request in flight is finished, and each keep-alive connection is closed after
   its next response ("Connection: close", `option idle-close-on-response`), so the client
   knows. Connections that the new worker took from the accept queue (SYNs accepted just
   before the block) are moved to old workers by another reload. The drain ends when no
   connection is left, or when no request is in flight any more and IDLE_GRACE_S has passed
   (a busy keep-alive client has sent its next request and been told to close by then), or
   at the timeout. Old workers still running then are stopped: their idle connections are
   closed (FIN, seen by the client before it reuses them); requests still in flight are cut
   and counted.

Measured on the test machine (tests/integration/keepalived/test_handover.py): the block, the
drain and the VIP's move take well under the 1 s of a SYN retransmit, so a new connection
that meets the block is served on its first retransmit.
"""

import logging
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from steelyard.agent.haproxy_process import HAProxyProcess, _alive, _loads_config, _signal
from steelyard.agent.master_cli import ProcList
from steelyard.agent.netns import exec_prefix
from steelyard.agent.runtime_api import unix_command

log = logging.getLogger("steelyard.agent")

TABLE = "steelyard_handover"
IDLE_GRACE_S = 0.25
_POLL_S = 0.01
_MAX_RELOADS = 3  # accept-queue stragglers; after that the timeout decides
_NFT_TIMEOUT_S = 10.0


class DrainError(Exception):
    pass


def block_ruleset() -> str:
    """nftables input: drop new TCP connections from outside (loopback keeps HAProxy's local
    peer); replies to the appliance's own connections (health checks) carry ACK and pass."""
    return f"""table inet {TABLE}
delete table inet {TABLE}
table inet {TABLE} {{
    chain input {{
        type filter hook input priority filter - 10; policy accept;
        iifname != "lo" tcp flags & (syn | ack) == syn drop
    }}
}}
"""


def unblock_ruleset() -> str:
    """Removes the table; a no-op when it is not there."""
    return f"table inet {TABLE}\ndelete table inet {TABLE}\n"


def _nft(netns: str, ruleset: str) -> None:
    argv = [*exec_prefix(netns), "nft", "-f", "-"]
    try:
        done = subprocess.run(
            argv, input=ruleset.encode(), capture_output=True, timeout=_NFT_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise DrainError("nft timed out") from exc
    if done.returncode != 0:
        raise DrainError(f"nft failed: {(done.stdout + done.stderr).decode(errors='replace')}")


def unblock(netns: str | None) -> None:
    """Let new connections in again (also after an agent that crashed mid-drain)."""
    if netns is not None:
        _nft(netns, unblock_ruleset())


@contextmanager
def new_connections_blocked(netns: str | None) -> Iterator[None]:
    """Drop new TCP connections from outside while the block is held. Without a namespace
    (the process driver shares the host's) nothing is blocked."""
    if netns is None:
        yield
        return
    _nft(netns, block_ruleset())
    try:
        yield
    finally:
        unblock(netns)


@dataclass(frozen=True)
class WorkerLoad:
    connections: int  # CurrConns: open client connections, idle keep-alive ones included
    in_flight: int  # streams other than the CLI's own: requests being served


def parse_curr_conns(show_info: str) -> int:
    for line in show_info.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "CurrConns":
            return int(value.strip())
    raise DrainError(f"no CurrConns in 'show info': {show_info[:200]!r}")


def count_in_flight(show_sess: str) -> int:
    """Streams of `show sess` except the CLI session that asked (frontend GLOBAL)."""
    return sum(
        1
        for line in show_sess.splitlines()
        if line.startswith("0x") and " fe=" in line and " fe=GLOBAL " not in line
    )


@dataclass(frozen=True)
class DrainResult:
    drain_ms: float
    reloads: int
    in_flight_cut: int  # requests still in flight at the timeout (their connections closed)
    idle_closed: int  # idle keep-alive connections closed at the end
    timed_out: bool


def drain_haproxy(
    process: HAProxyProcess,
    reload: Callable[[ProcList], ProcList],
    timeout_s: float,
    *,
    idle_grace_s: float = IDLE_GRACE_S,
) -> DrainResult:
    """Move every connection to soft-stopping old workers and wait for them (see the module
    text). `reload` reloads HAProxy with its config in force. New connections must be blocked
    by the caller."""
    started = time.monotonic()
    procs = process.proc_list()
    if procs is None:
        return DrainResult(0.0, 0, 0, 0, False)
    procs, reloads, last_reload = reload(procs), 1, time.monotonic()
    timed_out = False
    while True:
        loads = _loads(process, procs)
        current = sum(loads[pid].connections for pid in procs.workers if pid in loads)
        connections = sum(load.connections for load in loads.values())
        in_flight = sum(load.in_flight for load in loads.values())
        now = time.monotonic()
        if connections == 0:
            break
        if in_flight == 0 and current == 0 and now - started >= idle_grace_s:
            break
        if now - started >= timeout_s:
            timed_out = True
            break
        if current and reloads < _MAX_RELOADS and now - last_reload > 0.05:
            procs, last_reload = reload(procs), now
            reloads += 1
            continue
        time.sleep(_POLL_S)
        procs = process.proc_list() or procs
    old = {pid: load for pid, load in loads.items() if pid in procs.old_workers}
    cut = sum(load.in_flight for load in loads.values()) if timed_out else 0
    idle = sum(load.connections for load in old.values()) - cut
    for pid in old:
        if _alive(pid) and _loads_config(pid, process.layout.cfg):
            _signal(pid, signal.SIGTERM)
    result = DrainResult(
        round((time.monotonic() - started) * 1000, 3), reloads, cut, max(0, idle), timed_out
    )
    log.info("%s: drained %s", process.layout.root.name, result)
    return result


def _loads(process: HAProxyProcess, procs: ProcList) -> dict[int, WorkerLoad]:
    """Each worker's load, asked through the master CLI (`@!<pid>`); a worker that does not
    answer (exited meanwhile) is left out."""
    loads = {}
    for pid in (*procs.workers, *procs.old_workers):
        try:
            info = unix_command(process.layout.master_socket, f"@!{pid} show info", timeout=2)
            sess = unix_command(process.layout.master_socket, f"@!{pid} show sess", timeout=2)
            loads[pid] = WorkerLoad(parse_curr_conns(info), count_in_flight(sess))
        except (OSError, DrainError):
            continue
    return loads
