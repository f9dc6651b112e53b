"""One appliance: apply a config (runtime API, start or hitless reload, with rollback), report.

Apply decides, under the appliance's lock:

    same config as in force, HAProxy running     -> "unchanged" (generation recorded)
    only weights / `disabled` differ, running    -> "runtime": runtime API commands, then the
                                                    file is written for the next reload
    HAProxy not running                          -> validate, start, verify  -> "started"
    otherwise                                    -> validate, reload, verify -> "reloaded"

A config that `haproxy -c` rejects never touches the running HAProxy (400, rolled_back false).
When the start, the reload or the listener check fails, the previous config is restored and
reloaded (400, rolled_back true); throughout, the previous workers keep serving.
"""

import hashlib
import logging
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal, TypeVar

from steelyard.agent.contract import (
    DRAIN_TIMEOUT_S,
    ApplianceInfo,
    ApplyError,
    ApplyResult,
    DrainReport,
    RuntimePathsOut,
    StatRow,
    VrrpRelease,
)
from steelyard.agent.drain import (
    DrainError,
    DrainResult,
    drain_haproxy,
    new_connections_blocked,
)
from steelyard.agent.haproxy_process import HAProxyError, HAProxyProcess
from steelyard.agent.keepalived_process import (
    KeepalivedAction,
    KeepalivedError,
    KeepalivedProcess,
    keepalived_paths,
)
from steelyard.agent.layout import (
    ApplianceLayout,
    Applied,
    read_applied,
    write_applied,
    write_text,
)
from steelyard.agent.master_cli import ProcList
from steelyard.agent.netns import unreachable
from steelyard.agent.runtime_api import RuntimeApi, RuntimeApiError
from steelyard.agent.server_state import carry_server_state
from steelyard.agent.tls_files import installed
from steelyard.render.runtime_diff import runtime_commands

log = logging.getLogger("steelyard.agent")

Action = Literal["unchanged", "runtime", "started", "reloaded"]
T = TypeVar("T")
_CLI_ATTEMPTS = 50  # x 20 ms: how long a live master may stay silent before it is restarted


class ApplyFailed(Exception):
    def __init__(self, error: ApplyError) -> None:
        super().__init__(error.error)
        self.error = error


class ApplianceGone(Exception):
    """The appliance was deleted while the request waited for it."""


class NotRunning(Exception):
    pass


@dataclass
class _Timer:
    """Milliseconds per phase of one apply, for the log line."""

    start: float = field(default_factory=time.perf_counter)
    phases: dict[str, float] = field(default_factory=dict)
    _mark: float = field(default_factory=time.perf_counter)

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.phases[phase] = (now - self._mark) * 1000
        self._mark = now

    def total_ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000

    def describe(self) -> str:
        return ", ".join(f"{name} {ms:.1f}" for name, ms in self.phases.items())


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Appliance:
    def __init__(
        self,
        name: str,
        layout: ApplianceLayout,
        process: HAProxyProcess,
        keepalived: KeepalivedProcess,
    ) -> None:
        self.name = name
        self.layout = layout
        self.process = process
        self.keepalived = keepalived
        self.runtime = RuntimeApi(layout.stats_socket)
        self.lock = threading.RLock()  # reentrant: `apply` holds it around `_apply`
        self.deleted = False

    @property
    def netns(self) -> str | None:
        return self.process.netns

    def info(self) -> ApplianceInfo:
        procs = self.process.proc_list()
        applied = read_applied(self.layout)
        return ApplianceInfo(
            name=self.name,
            netns=self.netns,
            paths=RuntimePathsOut(
                stats_socket=str(self.layout.stats_socket),
                server_state_file=str(self.layout.server_state),
                log_socket=str(self.layout.log_socket),
                tls_dir=str(self.layout.tls_dir),
                keepalived=keepalived_paths(self.layout),
            ),
            running=procs is not None and bool(procs.workers),
            generation=applied.generation if applied else None,
            config_sha256=applied.config_sha256 if applied else None,
            master_pid=procs.master_pid if procs else self.process.master_pid(),
            worker_pids=list(procs.workers) if procs else [],
            vrrp_state=self.keepalived.vrrp_state(),
            keepalived_pid=self.keepalived.pid(),
        )

    def stats(self) -> list[StatRow]:
        if self.process.master_pid() is None:
            raise NotRunning(self.name)
        try:
            return self.runtime.show_stat()
        except RuntimeApiError as exc:
            raise NotRunning(f"{self.name}: {exc}") from exc

    def apply(
        self,
        generation: int,
        cfg: str,
        verify: Sequence[tuple[str, int]],
        files: Mapping[str, str] | None = None,
        keepalived_cfg: str | None = None,
    ) -> ApplyResult:
        """Apply `cfg` with the files it names (tls_files.installed: written before the
        checks, put back when the apply fails, the unnamed ones removed when it succeeds).

        Then keepalived: started, reloaded or stopped (`keepalived_cfg` None) after HAProxy, so
        that a standby serves before it can become MASTER. A keepalived config that `keepalived
        -t` rejects is refused before anything changes."""
        with self.lock:
            if self.deleted:
                raise ApplianceGone(self.name)
            candidate = self._keepalived_step("validate", self.keepalived.check, keepalived_cfg)
            with installed(self.layout.tls_dir, files or {}):
                result = self._apply(generation, cfg, verify)
            action: KeepalivedAction = self._keepalived_step(
                "start", lambda cfg: self.keepalived.apply(cfg, candidate), keepalived_cfg
            )
            return result.model_copy(update={"keepalived_action": action})

    def release_vrrp(self, drain_timeout_s: float = DRAIN_TIMEOUT_S) -> VrrpRelease:
        """Hand the VIP over without losing a request: new connections are dropped (their
        clients send the SYN again and reach the peer), HAProxy is drained (agent/drain.py, at
        most `drain_timeout_s`), then a MASTER's keepalived is stopped (a priority-0 advert;
        the peer takes over after its skew time) and started again with the same config, in
        which it is BACKUP with `nopreempt`: it stays BACKUP while the peer advertises, and
        takes the VIP back only if the peer goes silent. Not MASTER: nothing to do."""
        start = time.perf_counter()
        with self.lock:
            if self.deleted:
                raise ApplianceGone(self.name)
            previous = self.keepalived.vrrp_state()
            if self.keepalived.pid() is None:
                raise NotRunning(f"{self.name}: keepalived is not running")
            released = previous == "MASTER"
            drained = None
            if released:
                drained = self._drain_and_stop_keepalived(drain_timeout_s)
                try:
                    self.keepalived.start()
                except KeepalivedError as exc:
                    raise NotRunning(f"{self.name}: keepalived did not start again: {exc}") from exc
                log.info("%s: VRRP released (was %s)", self.name, previous)
            return VrrpRelease(
                released=released,
                previous_state=previous,
                vrrp_state=self.keepalived.wait_for_state(),
                keepalived_pid=self.keepalived.pid(),
                duration_ms=round((time.perf_counter() - start) * 1000, 3),
                drain=None if drained is None else DrainReport(**asdict(drained)),
            )

    def _drain_and_stop_keepalived(self, timeout_s: float) -> DrainResult | None:
        """Block new connections, drain HAProxy, stop keepalived (the VIP leaves), unblock.
        A drain that fails is logged and the VIP released anyway: the handover is planned,
        and a failed drain costs what a release without one did."""
        drained = None
        try:
            with new_connections_blocked(self.netns):
                try:
                    drained = drain_haproxy(self.process, self._reload_in_force, timeout_s)
                except (HAProxyError, DrainError) as exc:
                    log.warning("%s: drain before the VIP handover failed: %s", self.name, exc)
                self.keepalived.stop()
        except DrainError as exc:  # nftables: the block could not be set or lifted
            log.warning("%s: new connections not blocked for the handover: %s", self.name, exc)
        if self.keepalived.pid() is not None:
            self.keepalived.stop()
        return drained

    def _reload_in_force(self, procs: ProcList) -> ProcList:
        """Reload HAProxy with the config in force (its old workers then soft-stop)."""
        cfg = self.layout.cfg.read_text(encoding="utf-8")
        self._carry_state(cfg, cfg)
        return self.process.reload(procs)

    def _keepalived_step(
        self, stage: Literal["validate", "start"], step: Callable[[str | None], T], cfg: str | None
    ) -> T:
        try:
            return step(cfg)
        except KeepalivedError as exc:
            log.warning("%s: keepalived %s failed: %s", self.name, stage, exc)
            raise ApplyFailed(
                ApplyError(
                    error=str(exc),
                    output=exc.output,
                    rolled_back=False,
                    stage=stage,
                    component="keepalived",
                )
            ) from exc

    def _apply(self, generation: int, cfg: str, verify: Sequence[tuple[str, int]]) -> ApplyResult:
        timer = _Timer()
        digest = sha256(cfg)
        with self.lock:
            if self.deleted:
                raise ApplianceGone(self.name)
            timer.lap("lock")
            procs = self._running()
            applied = read_applied(self.layout)
            in_force = self._in_force(applied)
            # A master without workers serves nothing: only a reload can help it.
            if procs is not None and procs.workers and in_force is not None:
                if applied is not None and applied.config_sha256 == digest:
                    write_applied(self.layout, Applied(generation, digest))
                    return self._done("unchanged", generation, digest, [], timer)
                commands = runtime_commands(in_force, cfg)
                if commands is not None and self._run_commands(commands):
                    timer.lap("runtime")
                    self._install(cfg, previous=in_force)
                    write_applied(self.layout, Applied(generation, digest))
                    return self._done("runtime", generation, digest, commands, timer)
            output = self._validate(cfg)
            timer.lap("validate")
            action: Action
            if procs is None:
                self._start(verify, timer)
                action = "started"
            else:
                self._reload(procs, cfg, in_force, verify, timer)
                action = "reloaded"
            write_applied(self.layout, Applied(generation, digest))
            warnings = [line for line in output.splitlines() if "[WARNING]" in line]
            if warnings:
                log.info("%s: haproxy -c: %s", self.name, " | ".join(warnings)[:2000])
            return self._done(action, generation, digest, [], timer)

    def destroy(self) -> None:
        """Stop keepalived (the VIP moves to a peer at once), then HAProxy, and remove every
        file of the appliance. Caller holds no lock."""
        with self.lock:
            self.deleted = True
            self.keepalived.stop()
            self.process.stop()
            shutil.rmtree(self.layout.root, ignore_errors=True)

    def _running(self) -> ProcList | None:
        """The master's process list, or None when HAProxy is not running.

        A master that is alive but does not answer on its CLI cannot be reloaded or verified;
        it is stopped so that a fresh start takes over (this costs the appliance's traffic
        briefly, but leaves it in a state the agent can drive again).
        """
        for _ in range(_CLI_ATTEMPTS):
            procs = self.process.proc_list()
            if procs is not None or self.process.master_pid() is None:
                return procs
            time.sleep(0.02)  # a momentary hiccup should not cost a restart
        log.warning("%s: HAProxy master not answering on its CLI; restarting it", self.name)
        self.process.stop()
        return None

    def _in_force(self, applied: Applied | None) -> str | None:
        """haproxy.cfg, when it is the config the agent last applied (else it is unknown)."""
        if applied is None:
            return None
        try:
            text = self.layout.cfg.read_text(encoding="utf-8")
        except OSError:
            return None
        return text if sha256(text) == applied.config_sha256 else None

    def _run_commands(self, commands: list[str]) -> bool:
        """Apply runtime commands; False (reload instead) when HAProxy refuses one.

        A refusal is expected for some setups (e.g. weights under a static algorithm); the
        reload that follows loads the new config, with the server-state file rewritten so
        that commands applied before the refusal do not outlive it.
        """
        for command in commands:
            try:
                self.runtime.execute(command)
            except RuntimeApiError as exc:
                log.warning("%s: runtime command refused, reloading instead: %s", self.name, exc)
                return False
        return True

    def _install(self, cfg: str, *, previous: str | None) -> None:
        if previous is not None:
            write_text(self.layout.cfg_prev, previous)
        write_text(self.layout.cfg, cfg)

    def _validate(self, cfg: str) -> str:
        write_text(self.layout.cfg_new, cfg)
        try:
            return self.process.validate(self.layout.cfg_new)
        except HAProxyError as exc:
            self.layout.cfg_new.unlink(missing_ok=True)
            raise ApplyFailed(
                ApplyError(error=str(exc), output=exc.output, rolled_back=False, stage="validate")
            ) from exc

    def _start(self, verify: Sequence[tuple[str, int]], timer: _Timer) -> None:
        had_config = self.layout.cfg.exists()
        if had_config:
            self.layout.cfg.replace(self.layout.cfg_prev)
        self.layout.cfg_new.replace(self.layout.cfg)
        # State from a HAProxy that is no longer running describes nothing current.
        self.layout.server_state.unlink(missing_ok=True)
        try:
            self.process.start()
            timer.lap("start")
            self._verify(verify)
            timer.lap("verify")
        except (HAProxyError, _VerifyFailed) as exc:
            self.process.stop()
            if had_config:
                self.layout.cfg_prev.replace(self.layout.cfg)
            else:
                self.layout.cfg.unlink(missing_ok=True)
            stage = exc.stage if isinstance(exc, HAProxyError) else "verify"
            output = exc.output if isinstance(exc, HAProxyError) else ""
            log.warning("%s: start failed (%s), stopped again: %s", self.name, stage, exc)
            raise ApplyFailed(
                ApplyError(error=str(exc), output=output, rolled_back=True, stage=stage)
            ) from exc

    def _reload(
        self,
        procs: ProcList,
        cfg: str,
        running_cfg: str | None,
        verify: Sequence[tuple[str, int]],
        timer: _Timer,
    ) -> None:
        previous = self.layout.cfg.read_text(encoding="utf-8") if self.layout.cfg.exists() else ""
        write_text(self.layout.cfg_prev, previous)
        self._carry_state(running_cfg, cfg)
        self.layout.cfg_new.replace(self.layout.cfg)
        timer.lap("prepare")
        reloaded = False
        try:
            self.process.reload(procs)
            reloaded = True
            timer.lap("reload")
            self._verify(verify)
            timer.lap("verify")
        except (HAProxyError, _VerifyFailed) as exc:
            stage = exc.stage if isinstance(exc, HAProxyError) else "verify"
            restored = self._roll_back(previous, cfg if reloaded else running_cfg, reloaded)
            raise ApplyFailed(
                ApplyError(
                    error=str(exc) if restored else f"{exc}; rolling back failed as well",
                    output=exc.output if isinstance(exc, HAProxyError) else "",
                    rolled_back=restored,
                    stage=stage,
                )
            ) from exc

    def _roll_back(self, previous: str, serving_cfg: str | None, reloaded: bool) -> bool:
        """Put the previous config back and reload it; True when it is what serves now."""
        write_text(self.layout.cfg, previous)
        procs = self.process.proc_list()
        if procs is None:
            log.error("%s: rollback impossible, HAProxy master gone", self.name)
            return False
        self._carry_state(serving_cfg, previous)
        try:
            self.process.reload(procs)
        except HAProxyError as exc:
            log.error("%s: rollback reload failed: %s", self.name, exc)
            # A failed first reload left the previous workers serving the previous config.
            return not reloaded
        log.warning("%s: rolled back to the previous config", self.name)
        return True

    def _carry_state(self, running_cfg: str | None, target_cfg: str) -> None:
        try:
            dump = self.runtime.show_servers_state()
        except RuntimeApiError as exc:
            log.warning("%s: no server state to carry over: %s", self.name, exc)
            self.layout.server_state.unlink(missing_ok=True)
            return
        write_text(self.layout.server_state, carry_server_state(dump, running_cfg, target_cfg))

    def _verify(self, verify: Sequence[tuple[str, int]]) -> None:
        failures = unreachable(verify, self.netns)
        if failures:
            raise _VerifyFailed("listeners not accepting connections: " + ", ".join(failures))

    def _done(
        self, action: Action, generation: int, digest: str, commands: list[str], timer: _Timer
    ) -> ApplyResult:
        total = timer.total_ms()
        log.info(
            "%s: generation %d %s in %.1f ms (%s)",
            self.name,
            generation,
            action,
            total,
            timer.describe(),
        )
        return ApplyResult(
            action=action,
            generation=generation,
            config_sha256=digest,
            runtime_commands=commands,
            duration_ms=round(total, 3),
        )


class _VerifyFailed(Exception):
    pass
