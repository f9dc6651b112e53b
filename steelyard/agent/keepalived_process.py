"""One appliance's keepalived: validate, start, reload (SIGHUP), stop, adopt; its VRRP state.

keepalived runs in the appliance's network namespace but is started from the host's, with
`--namespace`: tracking HAProxy by process events needs the kernel's process connector, which
only exists in the initial network namespace. Started with `ip netns exec`, keepalived logs
"Failed to set/clear process event listen - errno 111" and a tracked instance stays FAULT;
with `--namespace` it subscribes first and then joins the namespace (its processes' network
namespace is the appliance's; it also gets a private mount of /run/keepalived).

HAProxy is started as `<appliance dir>/haproxy`, a symlink to the binary (`link_haproxy_command`),
so that its argv[0] names this appliance alone: /proc in the namespace still shows every process
of the host, and the rest of HAProxy's command line changes on each reload (the re-executed
master gains `-sf <pids> -x ...` for ~150 ms, which made a parameter match fault the instance
on every reload). keepalived compares argv[0] only (`full_command`).

State changes travel in order through a FIFO to `vrrp-notify.sh`, which keeps `vrrp.state`.
keepalived does not report its own STOP there (the script is ended with it), so `stop` writes
STOP itself.

Only PIDs proven ours are signalled: alive, not a zombie, and loading this appliance's
keepalived.conf.
"""

import contextlib
import hashlib
import itertools
import logging
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import Literal

from steelyard.agent.haproxy_process import _alive, _clip, _signal
from steelyard.agent.layout import ApplianceLayout, write_text
from steelyard.agent.netns import netns_path
from steelyard.model.heartbeat import VRRP_STATES
from steelyard.model.vrrp import KeepalivedPaths

log = logging.getLogger("steelyard.agent")

DEFAULT_BINARY = Path("/usr/sbin/keepalived")
RUN_DIR = Path("/run/keepalived")  # with --namespace, keepalived keeps <dir>/<netns>/ there
_POLL_S = 0.002
KeepalivedAction = Literal["none", "unchanged", "started", "reloaded", "stopped"]


class KeepalivedError(Exception):
    """A step failed; `stage` is one of validate, start, stop."""

    def __init__(self, stage: str, message: str, output: str = "") -> None:
        super().__init__(message)
        self.stage = stage
        self.output = output


def keepalived_paths(layout: ApplianceLayout) -> KeepalivedPaths:
    """The paths a rendered keepalived.conf of this appliance names."""
    return KeepalivedPaths(
        notify_fifo=str(layout.vrrp_fifo),
        notify_script=str(layout.vrrp_notify_script),
        check_script=str(layout.haproxy_check_script),
        haproxy_command=str(layout.haproxy_command),
    )


def link_haproxy_command(layout: ApplianceLayout, binary: Path) -> Path:
    """Make `<appliance dir>/haproxy` a symlink to `binary` and return it (idempotent)."""
    link, target = layout.haproxy_command, os.path.abspath(binary)
    with contextlib.suppress(OSError):
        if os.readlink(link) == target:
            return link
    tmp = link.with_name(f".{link.name}.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)
    return link


def notify_script(layout: ApplianceLayout) -> str:
    state, tmp = layout.vrrp_state, layout.vrrp_state.with_name(f".{layout.vrrp_state.name}.tmp")
    return f"""#!/bin/sh
# keepalived's VRRP state changes, one line each on the FIFO named by the last argument:
#   INSTANCE "<name>" MASTER|BACKUP|FAULT|STOP <priority>
# The last state is kept in {state.name} (written whole, then renamed into place).
while read -r kind name state priority; do
    case "$kind $state" in
        "INSTANCE MASTER" | "INSTANCE BACKUP" | "INSTANCE FAULT" | "INSTANCE STOP") ;;
        *) continue ;;
    esac
    printf '%s\\n' "$state" > {shlex.quote(str(tmp))} && mv -f {shlex.quote(str(tmp))} \\
        {shlex.quote(str(state))}
done < "$1"
"""


def check_script(layout: ApplianceLayout) -> str:
    return f"""#!/bin/sh
# Exits 0 while this appliance's HAProxy master runs (its pid file names a process whose
# argv[0] is this appliance's HAProxy command).
read -r pid < {shlex.quote(str(layout.pid_file))} || exit 1
case "$pid" in "" | *[!0-9]*) exit 1 ;; esac
first=$(tr '\\000' '\\n' < "/proc/$pid/cmdline" | head -n 1) || exit 1
[ "$first" = {shlex.quote(str(layout.haproxy_command))} ]
"""


def read_vrrp_state(layout: ApplianceLayout) -> str | None:
    try:
        text = layout.vrrp_state.read_text().strip()
    except OSError:
        return None
    return text if text in VRRP_STATES else None


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class KeepalivedProcess:
    def __init__(
        self,
        layout: ApplianceLayout,
        netns: str | None,
        *,
        binary: Path = DEFAULT_BINARY,
        start_timeout: float = 15.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.layout = layout
        self.netns = netns
        self.binary = binary
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout

    def pid(self) -> int | None:
        """The running parent's PID, if the pid file names a live keepalived of this appliance."""
        return self._pid_from(self.layout.keepalived_pid)

    def vrrp_state(self) -> str | None:
        """MASTER, BACKUP, FAULT while keepalived runs; STOP when it is stopped; None when this
        appliance has no keepalived. A keepalived that died leaves its last word in the file,
        so the file alone is not believed."""
        if self.pid() is not None:
            return read_vrrp_state(self.layout)
        return "STOP" if self.layout.keepalived_cfg.exists() else None

    def wait_for_state(self, timeout: float = 2.0) -> str | None:
        """The state once a freshly started keepalived has reported one (BACKUP at once, in
        practice), or whatever is known after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.vrrp_state()
            if state not in ("STOP", None):
                return state
            time.sleep(_POLL_S)
        return self.vrrp_state()

    def check(self, cfg: str | None) -> str | None:
        """Validate a candidate before anything changes: `keepalived -t` on `keepalived.conf.new`.
        Returns the candidate text when there is something to apply, None when unchanged."""
        if cfg is None or (self._loaded() == sha256(cfg) and self.pid() is not None):
            return None
        self._write_scripts()  # `keepalived -t` checks that the scripts it names exist
        write_text(self.layout.keepalived_cfg_new, cfg)
        argv = [str(self.binary), *self._namespace_args(), "-t", "-f"]
        argv.append(str(self.layout.keepalived_cfg_new))
        try:
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise KeepalivedError("validate", "keepalived -t timed out") from exc
        if done.returncode != 0:
            self.layout.keepalived_cfg_new.unlink(missing_ok=True)
            output = _clip((done.stdout + done.stderr).decode(errors="replace"))
            raise KeepalivedError("validate", "keepalived rejected the config", output)
        return cfg

    def apply(self, cfg: str | None, candidate: str | None) -> KeepalivedAction:
        """Bring keepalived to `cfg` (None: no keepalived). `candidate` is what `check` returned."""
        if cfg is None:
            if self.pid() is None and not self.layout.keepalived_cfg.exists():
                return "none"
            self.stop()
            for path in (self.layout.keepalived_cfg, self.layout.keepalived_loaded):
                path.unlink(missing_ok=True)
            self.layout.vrrp_state.unlink(missing_ok=True)
            return "stopped"
        if candidate is None:
            return "unchanged"
        pid = self.pid()
        previous = self._read(self.layout.keepalived_cfg)
        self.layout.keepalived_cfg_new.replace(self.layout.keepalived_cfg)
        if pid is not None:
            os.kill(pid, signal.SIGHUP)  # keepalived re-reads its file; instances keep state
            write_text(self.layout.keepalived_loaded, sha256(candidate))
            return "reloaded"
        try:
            self.start()
        except KeepalivedError:
            if previous is None:
                self.layout.keepalived_cfg.unlink(missing_ok=True)
            else:
                write_text(self.layout.keepalived_cfg, previous)
            raise
        return "started"

    def start(self) -> None:
        """Start keepalived (VRRP only) from keepalived.conf; returns once its VRRP child runs."""
        for path in (self.layout.keepalived_pid, self.layout.keepalived_vrrp_pid):
            path.unlink(missing_ok=True)
        self._write_scripts()
        argv = [
            str(self.binary),
            *self._namespace_args(),
            "--vrrp",
            "-f",
            str(self.layout.keepalived_cfg),
            "-p",
            str(self.layout.keepalived_pid),
            "-r",
            str(self.layout.keepalived_vrrp_pid),
        ]
        # keepalived daemonises; a new session keeps the agent's signals away from it.
        with self.layout.keepalived_output.open("wb") as out:
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
                raise KeepalivedError("start", "keepalived did not daemonise") from exc
        if done.returncode != 0:
            self.stop()
            raise KeepalivedError("start", f"keepalived exited with {done.returncode}")
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.pid() is not None and self._pid_from(self.layout.keepalived_vrrp_pid):
                write_text(self.layout.keepalived_loaded, sha256(self._read_cfg()))
                log.info("keepalived started for %s (pid %s)", self.layout.root.name, self.pid())
                return
            time.sleep(_POLL_S)
        output = self._output()
        self.stop()
        raise KeepalivedError("start", "keepalived's VRRP process did not come up", output)

    def stop(self) -> None:
        """Stop keepalived (SIGTERM: a MASTER sends a priority-0 advert and drops its VIPs, the
        peer takes over after its skew time), SIGKILL after `stop_timeout`. Writes STOP."""
        pids = {
            pid
            for pid in (self.pid(), self._pid_from(self.layout.keepalived_vrrp_pid))
            if pid is not None
        }
        parent = self.pid()
        if parent is not None:
            _signal(parent, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while time.monotonic() < deadline and any(self._is_ours(pid) for pid in pids):
            time.sleep(0.01)
        for pid in pids:
            if self._is_ours(pid):
                log.warning("keepalived %d of %s ignored SIGTERM; killing it", pid, self.netns)
                _signal(pid, signal.SIGKILL)
        for path in (self.layout.keepalived_pid, self.layout.keepalived_vrrp_pid):
            path.unlink(missing_ok=True)
        if self.netns is not None:
            # keepalived's own directory for the namespace; it removes it unless it was killed.
            with contextlib.suppress(OSError):
                (RUN_DIR / self.netns).rmdir()
        if pids or self.layout.vrrp_state.exists():
            write_text(self.layout.vrrp_state, "STOP\n")

    def _namespace_args(self) -> list[str]:
        if self.netns is None:
            return []
        netns_path(self.netns)  # validates the name
        return ["--namespace", self.netns]

    def _write_scripts(self) -> None:
        for path, text in (
            (self.layout.vrrp_notify_script, notify_script(self.layout)),
            (self.layout.haproxy_check_script, check_script(self.layout)),
        ):
            if self._read(path) != text:
                write_text(path, text)
            path.chmod(0o700)

    def _loaded(self) -> str | None:
        text = self._read(self.layout.keepalived_loaded)
        return text.strip() if text is not None else None

    def _read_cfg(self) -> str:
        return self._read(self.layout.keepalived_cfg) or ""

    def _pid_from(self, pid_file: Path) -> int | None:
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if self._is_ours(pid) else None

    def _is_ours(self, pid: int) -> bool:
        if not _alive(pid):
            return False
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        if not argv or os.path.basename(argv[0]) != b"keepalived":
            return False
        wanted = os.fsencode(self.layout.keepalived_cfg)
        return any(a == b"-f" and b == wanted for a, b in itertools.pairwise(argv))

    def _output(self) -> str:
        return _clip(self._read(self.layout.keepalived_output) or "")

    @staticmethod
    def _read(path: Path) -> str | None:
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
