"""Building blocks for the agent's integration tests: backends, traffic, configs, agents.

Everything here runs on 127.0.0.1 (or inside namespaces a test creates) and is stopped by the
fixture that started it, by the PID it started.
"""

import http.client
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from steelyard.agent.client import AgentClient, AgentUnreachable
from steelyard.agent.contract import ApplianceInfo
from steelyard.agent.pki import PkiPaths, client_ssl_context
from steelyard.agent.server import agent_uvicorn_config

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(condition: object, what: str, attempts: int = 500, pause: float = 0.01) -> None:
    """Poll `condition()` a fixed number of times (no wall-clock limits in tests)."""
    assert callable(condition)
    for _ in range(attempts):
        if condition():
            return
        time.sleep(pause)
    raise AssertionError(f"gave up waiting for {what}")


def pid_alive(pid: int) -> bool:
    """Alive and not a zombie (this machine's init does not reap orphans promptly)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :][:1] not in ("Z", "X", "")


class _NameHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.server.name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Backend:
    """A tiny HTTP server in a thread answering its own name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NameHandler)
        self.server.name = name  # type: ignore[attr-defined]
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def fetch(port: int, host: str = "127.0.0.1", header: str | None = None) -> str:
    """One request on a new connection; the body, plus ` header=value` when asked."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read().decode()
        if response.status != 200:
            raise AssertionError(f"HTTP {response.status}: {body}")
        if header is not None:
            return f"{body} {header}={response.getheader(header)}"
        return body
    finally:
        conn.close()


def spread(port: int, requests: int) -> Counter[str]:
    return Counter(fetch(port) for _ in range(requests))


def haproxy_cfg(
    info: ApplianceInfo,
    port: int,
    servers: list[str],
    frontend_extra: str = "",
    extra_bind: str = "",
) -> str:
    """A small literal config: one HTTP frontend on 127.0.0.1:port, one round-robin backend."""
    server_lines = "".join(f"    {line}\n" for line in servers)
    return f"""global
    stats socket {info.paths.stats_socket} mode 600 level admin expose-fd listeners
    server-state-file {info.paths.server_state_file}
    hard-stop-after 3s
    maxconn 2000

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    load-server-state-from-file global

frontend fe
    bind 127.0.0.1:{port}{extra_bind}
    default_backend be{frontend_extra}

backend be
    balance roundrobin
{server_lines}"""


class ThreadedAgent:
    """The agent app under uvicorn in a thread of the test process (real mTLS)."""

    def __init__(self, state_dir: Path, pki: PkiPaths) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(agent_uvicorn_config("127.0.0.1", self.port, state_dir, pki))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for(lambda: self.server.started, "the agent to listen")
        self.url = f"https://127.0.0.1:{self.port}"
        self.client = AgentClient(self.url, client_ssl_context(pki))

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join()
        app = self.server.config.app
        assert isinstance(app, FastAPI)
        app.state.logs.close()  # its log thread and handler


class SubprocessAgent:
    """`python -m steelyard.agent` as a child process (what the controller runs)."""

    def __init__(self, state_dir: Path, pki: PkiPaths, log: Path, *extra: str) -> None:
        self.port = free_port()
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "steelyard.agent", *self.argv(state_dir, pki), *extra],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        self.client = AgentClient(f"https://127.0.0.1:{self.port}", client_ssl_context(pki))
        wait_for(self._answers, f"the agent on port {self.port} (log: {log})", attempts=1000)

    def argv(self, state_dir: Path, pki: PkiPaths) -> list[str]:
        return [
            "--listen",
            f"127.0.0.1:{self.port}",
            "--state-dir",
            str(state_dir),
            "--pki-dir",
            str(pki.dir),
        ]

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"agent exited: {self.log.read_text()}")
        try:
            self.client.info()
        except AgentUnreachable:
            return False
        return True

    def kill(self) -> None:
        """SIGKILL, like a crash: no chance to clean up."""
        self.client.close()
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
