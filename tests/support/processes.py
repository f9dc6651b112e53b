"""`popen_in_netns`: start a command inside a named network namespace, for real."""

import subprocess
from collections.abc import Sequence

from steelyard.network.iproute import IP
from steelyard.network.namespaces import netns_pids


def popen_in_netns(netns: str, argv: Sequence[str]) -> "subprocess.Popen[bytes]":
    """Run `argv` in `netns` via `ip netns exec` (which execs in place: the PID is the command's)
    and return once the process is inside the namespace.

    Popen returns before `ip` has entered the namespace; code that looks for the namespace's
    processes right away (delete, purge) would miss it. The caller owns the process: kill it by
    PID and wait for it.
    """
    process = subprocess.Popen([IP, "netns", "exec", netns, *argv])
    while process.pid not in netns_pids(netns):
        if process.poll() is not None:
            raise RuntimeError(f"{argv[0]} in {netns} exited with {process.returncode}")
    return process
