"""Runs a real `steelyard serve` as a child process for end-to-end tests, and tears it down
(server, agent, HAProxy, namespaces, links, files) also when the test fails."""

import ipaddress
import os
import random
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from steelyard.server.local_agent import free_port


@dataclass
class ServerHandle:
    url: str
    state_dir: Path
    prefix: str
    driver: str
    vip_cidr: str
    process: subprocess.Popen[bytes]
    log_path: Path
    extra_args: tuple[str, ...] = ()
    heartbeat_port: int = 0  # UDP, on every address; kept across restarts
    clients: list[httpx.Client] = field(default_factory=list)  # closed when the server stops

    @property
    def member_host(self) -> str:
        """Where a backend on this host is reachable from the appliances."""
        if self.driver == "netns":
            return str(next(ipaddress.ip_network(self.vip_cidr).hosts()))
        return "127.0.0.1"

    def api(self, project: str | None = "p1", token: str | None = None) -> httpx.Client:
        headers = {}
        if project:
            headers["X-Project-Id"] = project
        if token:
            headers["X-Auth-Token"] = token
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("0.0.0.0", 0))
        return int(probe.getsockname()[1])


def random_prefix() -> str:
    return "e" + "".join(random.choices(string.ascii_lowercase + string.digits, k=3))


def random_cidr() -> str:
    """A /24 no bridge on this host uses yet; each pytest-xdist worker draws from its own range,
    so servers of parallel workers never share a subnet."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    span = 254 // max(workers, 1)
    third_octets = list(range(1 + worker * span, 1 + (worker + 1) * span))
    random.shuffle(third_octets)
    for third in third_octets:
        cidr = f"198.19.{third}.0/24"
        routed = subprocess.run(
            ["ip", "route", "show", cidr], capture_output=True, text=True, check=False
        )
        if not routed.stdout.strip():
            return cidr
    raise RuntimeError("no free 198.19.x.0/24 for a test server")


def _spawn(handle_args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "steelyard", "serve", *handle_args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "STEELYARD_LOG_LEVEL": "INFO"},
        )


def _args(h: ServerHandle) -> list[str]:
    host_port = h.url.removeprefix("http://")
    return [
        "--listen", host_port, "--state-dir", str(h.state_dir), "--driver", h.driver,
        "--prefix", h.prefix, "--vip-cidr", h.vip_cidr,
        "--heartbeat-listen", f"0.0.0.0:{h.heartbeat_port}", *h.extra_args,
    ]  # fmt: skip


def wait_ready(h: ServerHandle, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if h.process.poll() is not None:
            raise RuntimeError(f"server exited with {h.process.returncode}:\n{h.log_tail()}")
        try:
            if httpx.get(h.url + "/", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"server not ready:\n{h.log_tail()}")
        time.sleep(0.05)


def restart(h: ServerHandle) -> None:
    """Start the server again on the same state (after a kill)."""
    h.process = _spawn(_args(h), h.log_path)
    wait_ready(h)


def kill_hard(h: ServerHandle) -> None:
    h.process.send_signal(signal.SIGKILL)
    h.process.wait()


def stop(h: ServerHandle) -> None:
    if h.process.poll() is None:
        h.process.terminate()
        try:
            h.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            h.process.kill()
            h.process.wait()


def cleanup(h: ServerHandle) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "steelyard", "cleanup", "--state-dir", str(h.state_dir),
         "--prefix", h.prefix],
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:  # a leak is a bug: say so where the test output shows it
        raise RuntimeError(f"cleanup of {h.prefix} failed:\n{done.stdout}{done.stderr}")


@contextmanager
def running_server(
    tmp_path: Path, driver: str, extra_args: tuple[str, ...] = ()
) -> Iterator[ServerHandle]:
    port = free_port("127.0.0.1")
    cidr = random_cidr() if driver == "netns" else f"127.{random.randrange(100, 250)}.0.0/24"
    # Short: HAProxy's unix sockets live under it (108-byte path limit).
    state_dir = Path(tempfile.mkdtemp(prefix="sye-"))
    handle = ServerHandle(
        url=f"http://127.0.0.1:{port}",
        state_dir=state_dir,
        prefix=random_prefix(),
        driver=driver,
        vip_cidr=cidr,
        process=None,  # type: ignore[arg-type]  # set right below
        log_path=tmp_path / "server.log",
        extra_args=extra_args,
        heartbeat_port=free_udp_port(),
    )
    handle.process = _spawn(_args(handle), handle.log_path)
    try:
        wait_ready(handle)
        yield handle
    finally:
        for client in handle.clients:
            client.close()
        stop(handle)
        try:
            cleanup(handle)
        finally:
            shutil.rmtree(state_dir, ignore_errors=True)


def wait_until(predicate: Any, timeout_s: float = 30, interval_s: float = 0.05) -> Any:
    """Poll until `predicate()` is truthy and return its value (a bound, not a time limit on
    the test: it says how long a convergence may take before the test reports it failed)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(interval_s)
