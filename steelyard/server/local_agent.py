"""The host's appliance agent, run as a child process of the embedded server.

The agent exits with the server (it asks the kernel for that), HAProxy does not: the data
plane keeps serving while the control plane restarts, and the next agent adopts it.
"""

import logging
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class LocalAgent:
    """Starts `python -m steelyard.agent` and restarts it if it dies."""

    def __init__(
        self,
        host: str,
        port: int,
        state_dir: Path,
        pki_dir: Path,
        heartbeat_key_file: Path | None = None,
        heartbeat_interval_s: float = 1.0,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._state_dir = state_dir
        self._pki_dir = pki_dir
        self._heartbeat_args = (
            []
            if heartbeat_key_file is None
            else [
                "--heartbeat-key-file",
                str(heartbeat_key_file),
                "--heartbeat-interval",
                str(heartbeat_interval_s),
            ]
        )
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._watch = threading.Thread(target=self._supervise, name="agent-supervisor", daemon=True)

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def _spawn(self) -> None:
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "steelyard.agent",
                "--listen",
                f"{self.host}:{self.port}",
                "--state-dir",
                str(self._state_dir),
                "--pki-dir",
                str(self._pki_dir),
                *self._heartbeat_args,
                "--exit-with-parent",
            ]
        )
        log.info("appliance agent started (pid %d) on %s", self._process.pid, self.url)

    def start(self) -> None:
        self._state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Where operator tools on this host find the agent (its port may be chosen at start).
        (self._state_dir / "url").write_text(self.url + "\n")
        self._spawn()
        self._watch.start()

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            if self._process is not None and self._process.poll() is not None:
                log.error("appliance agent exited with %s: restarting", self._process.returncode)
                time.sleep(0.5)
                self._spawn()

    def stop(self) -> None:
        self._stopping.set()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
