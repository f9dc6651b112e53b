"""Running things inside an appliance's network namespace.

Commands run under `ip netns exec` (it also remounts /sys and applies /etc/netns/<name>, the
conventions HAProxy's resolvers would expect). Listener checks are TCP connects made from a
short-lived thread that has joined the namespace with setns(2): a network namespace belongs to
the thread, so the agent's other threads are untouched, and no process is forked (≈0.1 ms per
check rather than the milliseconds of an `ip netns exec`).
"""

import ctypes
import functools
import ipaddress
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

NETNS_DIR = Path("/run/netns")
_CLONE_NEWNET = 0x40000000

T = TypeVar("T")


class NetnsError(Exception):
    pass


def netns_path(netns: str) -> Path:
    if not netns or "/" in netns or netns in (".", ".."):
        raise NetnsError(f"invalid network namespace name {netns!r}")
    return NETNS_DIR / netns


def netns_exists(netns: str) -> bool:
    return netns_path(netns).exists()


def exec_prefix(netns: str | None) -> list[str]:
    """The argv prefix that runs a command inside `netns` (nothing for the host namespace)."""
    if netns is None:
        return []
    netns_path(netns)  # validates the name
    ip = shutil.which("ip") or "/usr/sbin/ip"
    return [ip, "netns", "exec", netns]


def parse_address(text: str) -> tuple[str, int]:
    """ "198.18.0.10:80" or "[fd00::1]:80" into (host, port); ValueError when malformed."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"expected address:port, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"an IPv6 address needs brackets, got {text!r}")
    ipaddress.ip_address(host)  # names would need a resolver inside the namespace
    return host, int(port_text)


def unreachable(
    targets: Sequence[tuple[str, int]],
    netns: str | None,
    *,
    timeout: float = 1.0,
    retry_for: float = 0.5,
) -> list[str]:
    """The targets that do not accept a TCP connection, as "host:port (reason)" strings.

    Each target is retried for up to `retry_for` seconds, for a listener that is still coming
    up; a listener that is there answers the first connect within microseconds.
    """
    if not targets:
        return []
    if netns is None:
        return _check_all(targets, timeout, retry_for)
    return run_in_netns(netns, lambda: _check_all(targets, timeout, retry_for))


def _check_all(targets: Sequence[tuple[str, int]], timeout: float, retry_for: float) -> list[str]:
    failures = []
    for host, port in targets:
        reason = _connect(host, port, timeout, retry_for)
        if reason is not None:
            failures.append(f"{host}:{port} ({reason})")
    return failures


def _connect(host: str, port: int, timeout: float, retry_for: float) -> str | None:
    deadline = time.monotonic() + retry_for
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    while True:
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect((host, port))
            return None
        except OSError as exc:
            if time.monotonic() >= deadline:
                return exc.strerror or str(exc)
        time.sleep(0.01)


def run_in_netns(netns: str, work: Callable[[], T]) -> T:
    """Run `work` in a new thread that has joined `netns`; returns its result or raises.

    Sockets created by `work` stay in that namespace after the thread has ended.
    """
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            fd = os.open(netns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc().setns(fd, _CLONE_NEWNET) != 0:
                    code = ctypes.get_errno()
                    raise NetnsError(f"setns({netns}): {os.strerror(code)}")
            finally:
                os.close(fd)
            result.append(work())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"netns-{netns}", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)
