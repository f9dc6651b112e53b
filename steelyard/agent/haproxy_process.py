"""One appliance's HAProxy: validate, start, reload, stop, and find it again after a restart.

HAProxy runs in master-worker mode, daemonised (`-W -D`), with its master CLI on a UNIX socket
(`-S`). Reloads go through the master, which re-reads `haproxy.cfg` and hands the listening
sockets to the new worker: no connection is refused during a reload (FACTS.md: 0 of ≈380k).

Only PIDs that this module can prove are ours are ever signalled: a process that is alive (not
a zombie) and whose command line loads this appliance's `haproxy.cfg`. A recycled PID in a stale
pid file fails that test.
"""

import contextlib
import itertools
import os
import signal
import subprocess
import time
from pathlib import Path

from steelyard.agent.layout import ApplianceLayout
from steelyard.agent.master_cli import ProcList, request_reload, show_proc
from steelyard.agent.netns import exec_prefix

DEFAULT_BINARY = Path("/usr/sbin/haproxy")
_POLL_S = 0.002
_OUTPUT_LIMIT = 20_000  # characters of HAProxy output kept in an error


class HAProxyError(Exception):
    """A step failed; `stage` is one of validate, start, reload, stop."""

    def __init__(self, stage: str, message: str, output: str = "") -> None:
        super().__init__(message)
        self.stage = stage
        self.output = output


class HAProxyProcess:
    def __init__(
        self,
        layout: ApplianceLayout,
        netns: str | None,
        *,
        binary: Path = DEFAULT_BINARY,
        local_peer: str | None = None,
        start_timeout: float = 15.0,
        reload_timeout: float = 30.0,
    ) -> None:
        self.layout = layout
        self.netns = netns
        self.binary = binary
        # `-L`: this process's peer name, so that a rendered local-only `peers` section carries
        # stick tables across reloads (the master re-executes itself with the same arguments).
        self.peer_args = ["-L", local_peer] if local_peer is not None else []
        self.start_timeout = start_timeout
        self.reload_timeout = reload_timeout

    def validate(self, cfg: Path) -> str:
        """`haproxy -c` in the appliance's namespace; returns its output, raises when invalid."""
        argv = [*exec_prefix(self.netns), str(self.binary), "-c", *self.peer_args, "-f", str(cfg)]
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.start_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise HAProxyError("validate", "haproxy -c timed out") from exc
        output = _clip((done.stdout + done.stderr).decode(errors="replace"))
        if done.returncode != 0:
            raise HAProxyError("validate", "HAProxy rejected the config", output)
        return output

    def master_pid(self) -> int | None:
        """The running master's PID, if the pid file names a live HAProxy of this appliance."""
        try:
            pid = int(self.layout.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if self._is_ours(pid) else None

    def proc_list(self) -> ProcList | None:
        """Master and workers as the master reports them; None when it is not running."""
        pid = self.master_pid()
        if pid is None:
            return None
        try:
            procs = show_proc(self.layout.master_socket)
        except OSError:
            return None
        return procs if procs.master_pid == pid else None

    def start(self) -> ProcList:
        """Start master and worker from `haproxy.cfg`; returns once a worker is up."""
        self.layout.pid_file.unlink(missing_ok=True)
        argv = [
            *exec_prefix(self.netns),
            str(self.binary),
            "-W",
            "-D",
            *self.peer_args,
            "-p",
            str(self.layout.pid_file),
            "-S",
            f"{self.layout.master_socket},mode,600",
            "-f",
            str(self.layout.cfg),
        ]
        # Output goes to a file, not a pipe: the daemonised master could keep a pipe open.
        # A new session keeps signals aimed at the agent's process group away from HAProxy.
        with self.layout.output.open("wb") as out:
            try:
                done = subprocess.run(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    timeout=self.start_timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                self.stop()
                raise HAProxyError("start", "HAProxy did not daemonise", self._output()) from exc
        if done.returncode != 0:
            self.stop()
            raise HAProxyError("start", f"HAProxy exited with {done.returncode}", self._output())
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            procs = self.proc_list()
            if procs is not None and procs.workers:
                return procs
            time.sleep(_POLL_S)
        self.stop()
        raise HAProxyError("start", "no HAProxy worker came up", self._output())

    def reload(self, before: ProcList) -> ProcList:
        """Reload through the master; returns once it reports a new worker, raises if it fails.

        When the master cannot use the new config (a listener that cannot bind, say), it keeps
        the old workers serving and counts a failed reload; that is reported as an error.
        """
        try:
            request_reload(self.layout.master_socket)
        except OSError:
            # The socket is the preferred path; SIGUSR2 to a master proven ours is equivalent.
            if self.master_pid() != before.master_pid:
                raise HAProxyError("reload", "HAProxy master is not running") from None
            os.kill(before.master_pid, signal.SIGUSR2)
        deadline = time.monotonic() + self.reload_timeout
        while time.monotonic() < deadline:
            time.sleep(_POLL_S)
            try:
                procs = show_proc(self.layout.master_socket)
            except OSError:
                continue  # the master is re-executing itself
            if procs.reloads <= before.reloads:
                continue
            if set(procs.workers) - set(before.workers):
                return procs
            if procs.failed > before.failed:
                raise HAProxyError(
                    "reload",
                    "HAProxy could not load the new config (e.g. a listener could not bind); "
                    "the previous workers keep serving",
                )
        raise HAProxyError("reload", f"no new worker after {self.reload_timeout:.0f}s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop master and workers (SIGTERM, then SIGKILL after `timeout`), remove runtime files."""
        procs = self.proc_list()
        master = self.master_pid()
        pids = {master} if master is not None else set()
        if procs is not None:
            pids |= set(procs.workers) | set(procs.old_workers)
        if master is not None:
            _signal(master, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(self._is_ours(pid) for pid in pids):
            time.sleep(0.01)
        for pid in pids:
            if self._is_ours(pid):
                _signal(pid, signal.SIGKILL)
        for path in (self.layout.pid_file, self.layout.master_socket, self.layout.stats_socket):
            path.unlink(missing_ok=True)

    def _is_ours(self, pid: int) -> bool:
        return _alive(pid) and _loads_config(pid, self.layout.cfg)

    def _output(self) -> str:
        try:
            return _clip(self.layout.output.read_text(errors="replace"))
        except OSError:
            return ""


def haproxy_version(binary: Path = DEFAULT_BINARY) -> str:
    try:
        done = subprocess.run(
            [str(binary), "-v"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    first = done.stdout.splitlines()[0] if done.stdout else ""
    # "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/"
    parts = first.split()
    return parts[2] if len(parts) > 2 and parts[1] == "version" else first


def _alive(pid: int) -> bool:
    """True for a live process; zombies (exited, not yet reaped by init) count as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the parenthesised command name, which may itself contain ") ".
    return stat[stat.rfind(")") + 2 :][:1] not in ("Z", "X", "")


def _loads_config(pid: int, cfg: Path) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if not argv or not os.path.basename(argv[0]).startswith(b"haproxy"):
        return False
    wanted = os.fsencode(cfg)
    return any(a == b"-f" and b == wanted for a, b in itertools.pairwise(argv))


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _clip(text: str) -> str:
    return text if len(text) <= _OUTPUT_LIMIT else text[:_OUTPUT_LIMIT] + "\n[...]"
