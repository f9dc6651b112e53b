"""Named network namespaces (those under /run/netns): state, sysctls, processes, removal."""

import contextlib
import ctypes
import enum
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from steelyard.network.iproute import IpCommandError, ip

NETNS_DIR = Path("/run/netns")
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

T = TypeVar("T")


class NetnsState(enum.Enum):
    ABSENT = "absent"
    MOUNTED = "mounted"  # a live namespace is bind-mounted on the file
    STALE = "stale"  # the file exists but nothing is mounted on it (`ip netns add` interrupted)


def netns_path(name: str) -> Path:
    return NETNS_DIR / name


def netns_state(name: str) -> NetnsState:
    try:
        st = os.stat(netns_path(name))
    except FileNotFoundError:
        return NetnsState.ABSENT
    # Every namespace inode lives on the one nsfs device; a plain file lives on tmpfs.
    if st.st_dev == os.stat("/proc/self/ns/net").st_dev:
        return NetnsState.MOUNTED
    return NetnsState.STALE


def list_netns() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:  # no namespace was ever named on this boot
        return []


def run_in_netns(name: str, fn: Callable[[], T]) -> T:
    """Call `fn` in a fresh thread that has entered the namespace `name`, and return its result.

    setns(2) moves only the calling thread, so the caller and the rest of the process stay in
    their namespace, and the thread (with its namespace) ends when `fn` returns. This saves the
    fork and exec of `ip netns exec` for work like sysctls, whose /proc/sys/net files show the
    namespace of the thread that opens them.
    """
    results: list[T] = []
    errors: list[BaseException] = []

    def enter_and_call() -> None:
        try:
            fd = os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns into {name}: {os.strerror(err)}")
            finally:
                os.close(fd)
            results.append(fn())
        except BaseException as exc:  # handed to the caller's thread below
            errors.append(exc)

    thread = threading.Thread(target=enter_and_call, name=f"netns-{name}")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return results[0]


def _sysctl_path(key: str) -> str:
    # "net.ipv4.ip_local_port_range" -> /proc/sys/net/ipv4/ip_local_port_range. Keys naming a
    # link with a "." in its name are not supported (ours are "eth0", "all", "default").
    return "/proc/sys/" + key.replace(".", "/")


def read_sysctls(name: str, keys: Iterable[str]) -> dict[str, str | None]:
    """Current values inside namespace `name`; None for a key that does not exist there."""
    wanted = list(keys)

    def read() -> dict[str, str | None]:
        values: dict[str, str | None] = {}
        for key in wanted:
            try:
                with open(_sysctl_path(key)) as f:
                    values[key] = f.read().strip()
            except FileNotFoundError:
                values[key] = None
        return values

    return run_in_netns(name, read)


def write_sysctls(name: str, values: Mapping[str, str]) -> None:
    """Set sysctls inside namespace `name`."""
    items = dict(values)

    def write() -> None:
        for key, value in items.items():
            with open(_sysctl_path(key), "w") as f:
                f.write(value)

    if items:
        run_in_netns(name, write)


def netns_pids(name: str) -> list[int]:
    """Processes whose network namespace is the one mounted at /run/netns/<name>."""
    try:
        st = os.stat(netns_path(name))
    except FileNotFoundError:
        return []
    target = (st.st_dev, st.st_ino)
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ns = os.stat(f"/proc/{entry}/ns/net")
        except OSError:  # gone, or a kernel thread
            continue
        if (ns.st_dev, ns.st_ino) == target:
            pids.append(int(entry))
    return pids


def _pidfds(name: str) -> dict[int, int]:
    """pidfds of the namespace's processes. A pidfd names one process for good, so a pid that is
    reused between our scan and our kill cannot make us signal an unrelated process."""
    try:
        st = os.stat(netns_path(name))
    except FileNotFoundError:
        return {}
    fds: dict[int, int] = {}
    for pid in netns_pids(name):
        if pid == os.getpid():
            continue
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:  # still the same process, still in that namespace?
            ns = os.stat(f"/proc/{pid}/ns/net")
            same = (ns.st_dev, ns.st_ino) == (st.st_dev, st.st_ino)
        except OSError:
            same = False
        if same:
            fds[pid] = fd
        else:
            os.close(fd)
    return fds


def _wait_exit(poller: select.poll, alive: set[int], seconds: float) -> None:
    """Wait until the processes behind the pidfds in `alive` exit, at most `seconds`."""
    deadline = time.monotonic() + seconds
    while alive and (left := deadline - time.monotonic()) > 0:
        for fd, _ in poller.poll(left * 1000):  # a pidfd turns readable when its process exits
            alive.discard(fd)
            poller.unregister(fd)


def kill_netns_processes(name: str, grace: float = 1.0) -> list[int]:
    """SIGTERM every process of the namespace, SIGKILL what is left after `grace` seconds.

    A named namespace outlives `ip netns del` for as long as a process is in it (and so do its
    veths), so removing an appliance has to end its processes. Returns the pids signalled.
    """
    fds = _pidfds(name)
    try:
        poller = select.poll()
        for fd in fds.values():
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(fd, signal.SIGTERM)
            poller.register(fd, select.POLLIN)
        alive = set(fds.values())
        _wait_exit(poller, alive, grace)
        for fd in alive:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(fd, signal.SIGKILL)
        _wait_exit(poller, alive, 1.0)  # SIGKILL is not instant
    finally:
        for fd in fds.values():
            os.close(fd)
    return sorted(fds)


def remove_netns(name: str, grace: float = 1.0) -> bool:
    """Remove a named namespace, ending its processes first. False if there was none."""
    state = netns_state(name)
    if state is NetnsState.ABSENT:
        return False
    if state is NetnsState.STALE:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(netns_path(name))
        return True
    kill_netns_processes(name, grace)
    try:
        ip("netns", "del", name)
    except IpCommandError:
        if netns_state(name) is not NetnsState.ABSENT:
            raise  # someone else removing it at the same time is fine; anything else is not
    return True
