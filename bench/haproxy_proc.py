"""Plain HAProxy processes for the benchmarks (the trivial backend, Octavia's config), and the
CPU time processes spend (to see how the two cores were shared)."""

import os
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench.lb import http_get

_TICKS = os.sysconf("SC_CLK_TCK")


@contextmanager
def haproxy(
    configs: Sequence[Path], extra: Sequence[str] = (), netns: str | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`haproxy -W -db -f ...` in the foreground (in `netns` if given); stopped on exit."""
    argv = ["haproxy", "-W", "-db", *(a for c in configs for a in ("-f", str(c))), *extra]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield process
    finally:
        process.terminate()  # the master stops its workers (ip netns exec execs, same pid)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_http(
    host: str, port: int, process: subprocess.Popen[bytes] | None = None, bound_s: float = 10
) -> None:
    """Until host:port answers 200; raises (with `process`'s stderr) if it died or never did."""
    deadline = time.monotonic() + bound_s
    while http_get(host, port, 0.5)[0] != 200:
        died = process is not None and process.poll() is not None
        if died or time.monotonic() > deadline:
            detail = ""
            if process is not None:
                process.kill()
                detail = process.communicate()[1].decode(errors="replace")[-2000:]
            raise RuntimeError(f"no HTTP 200 from {host}:{port}: {detail}")
        time.sleep(0.05)


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def netns_pids(netns: str) -> list[int]:
    done = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True)
    return [int(p) for p in done.stdout.split()]


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds the live processes `pids` have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / _TICKS
