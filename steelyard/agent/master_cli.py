"""HAProxy's master CLI (`haproxy -W -S <socket>`): process list and reloads.

`show proc` on HAProxy 2.6 answers:

    #<PID>          <type>          <reloads>       <uptime>        <version>
    4451            master          3 [failed: 0]   0d00h10m45s     2.6.12-1+deb12u4
    # workers
    11120           worker          0               0d00h00m01s     2.6.12-1+deb12u4
    # old workers
    10014           worker          1               0d00h00m19s     2.6.12-1+deb12u4
    # programs

The master's reload counter grows on every reload attempt; `failed` counts the failed ones since
the last success (a failed reload leaves the old workers serving). In 2.6 the `reload` command
answers nothing and the master re-executes itself, so its socket refuses connections for the
duration (≈100 ms here); callers poll `show proc`.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from steelyard.agent.runtime_api import unix_command

_MASTER = re.compile(r"^(\d+)\s+master\s+(\d+)\s+\[failed:\s*(\d+)\]")
_PROCESS = re.compile(r"^(\d+)\s+worker\b")


class MasterCliError(Exception):
    pass


@dataclass(frozen=True)
class ProcList:
    master_pid: int
    reloads: int
    failed: int
    workers: tuple[int, ...]  # current workers (serving the config in force)
    old_workers: tuple[int, ...]  # workers of earlier configs, finishing their connections


def parse_show_proc(text: str) -> ProcList:
    master: tuple[int, int, int] | None = None
    section = ""
    workers: list[int] = []
    old: list[int] = []
    for line in text.splitlines():
        if line.startswith("#"):
            section = line.strip("# ").lower()
            continue
        found = _MASTER.match(line)
        if found:
            master = (int(found[1]), int(found[2]), int(found[3]))
            continue
        process = _PROCESS.match(line)
        if process and section == "workers":
            workers.append(int(process[1]))
        elif process and section == "old workers":
            old.append(int(process[1]))
    if master is None:
        raise MasterCliError(f"no master line in 'show proc': {text[:300]!r}")
    return ProcList(master[0], master[1], master[2], tuple(workers), tuple(old))


def show_proc(socket_path: Path, *, timeout: float = 2.0) -> ProcList:
    """Raises OSError when the master is not answering (stopped, or re-executing)."""
    return parse_show_proc(unix_command(socket_path, "show proc", timeout=timeout))


def request_reload(socket_path: Path, *, timeout: float = 2.0) -> None:
    """Ask the master to reload: it re-reads its config file and starts new workers."""
    unix_command(socket_path, "reload", timeout=timeout)
