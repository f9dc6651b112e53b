"""`BackendNamespace`: an HTTP backend in a namespace of its own, on a given bridge and address.

Members at distinct addresses (198.18.x.201, .202, ...) behave like real ones: traffic from an
appliance crosses the bridge to reach them.
"""

import os
import signal
import subprocess
import sys
import tempfile
import weakref
from pathlib import Path
from typing import IO

from steelyard.compute.base import ApplianceSlot, VipPlacement
from steelyard.compute.netns import NetnsDriver
from steelyard.network.iproute import IP
from tests.support.network import VipNetwork

REPO = Path(__file__).resolve().parents[2]


class _Resources:
    """What teardown needs, kept apart from the BackendNamespace so a finalizer can hold it."""

    def __init__(self, driver: NetnsDriver, name: str) -> None:
        self.driver = driver
        self.name = name
        self.process: subprocess.Popen[str] | None = None
        self.stderr: IO[str] | None = None

    def teardown(self) -> None:
        try:
            if self.process is not None:
                self.process.terminate()  # by PID: only the process we started
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
                if self.process.stdout is not None:
                    self.process.stdout.close()
        finally:
            if self.stderr is not None:
                self.stderr.close()
            self.driver.delete(self.name)  # also ends anything else still inside


class BackendNamespace:
    """Runs ``python -m tests.support.http_backend`` in namespace ``<prefix>-<name>``.

    The namespace is wired like an appliance (veth to `bridge`, `address`/`prefixlen` on eth0),
    so it follows the prefix's name scheme and `purge(prefix)` removes it too. Use as a context
    manager or call `close()`; a finalizer covers the rest.
    """

    def __init__(
        self,
        prefix: str,
        name: str,
        *,
        bridge: str,
        address: str,
        prefixlen: int,
        gateway: str | None = None,
        port: int = 80,
    ) -> None:
        self.name = name
        self.address = address
        driver = NetnsDriver(prefix, kill_grace=0.2)
        self.netns = driver.netns_name(name)
        self._resources = _Resources(driver, name)
        self._finalizer = weakref.finalize(self, self._resources.teardown)
        try:
            slot = ApplianceSlot(name, VipPlacement(address, prefixlen, bridge, gateway))
            driver.ensure(slot)
            self._process, self.port = self._start(port)
        except BaseException:
            self.close()
            raise

    @classmethod
    def on(
        cls, network: VipNetwork, name: str, address: str | None = None, port: int = 80
    ) -> "BackendNamespace":
        """A backend on `network`, at `address` or the network's next free address."""
        return cls(
            network.prefix,
            name,
            bridge=network.bridge,
            address=network.allocate(address),
            prefixlen=network.prefixlen,
            gateway=network.gateway,
            port=port,
        )

    def _start(self, port: int) -> tuple["subprocess.Popen[str]", int]:
        res = self._resources
        # A file, not a pipe, so it can never fill up and stall the server; closed in teardown.
        res.stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115
        paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
        # `ip netns exec` execs the command in place, so the PID we hold is the server's.
        process = res.process = subprocess.Popen(
            [
                IP,
                "netns",
                "exec",
                self.netns,
                sys.executable,
                "-m",
                "tests.support.http_backend",
                "--name",
                self.name,
                "--host",
                self.address,
                "--port",
                str(port),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=res.stderr,
            text=True,
        )
        line = process.stdout.readline() if process.stdout else ""  # "READY <port>" or EOF
        if not line.startswith("READY "):
            process.wait()
            res.stderr.seek(0)
            raise RuntimeError(f"backend {self.name} did not start: {res.stderr.read().strip()}")
        return process, int(line.split()[1])

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}"

    def set_healthy(self, healthy: bool) -> None:
        """Make /health answer 200 (True) or 503 (False)."""
        self._process.send_signal(signal.SIGUSR2 if healthy else signal.SIGUSR1)

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> "BackendNamespace":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
