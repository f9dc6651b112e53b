"""Where one appliance keeps its files, and the small records the agent writes beside them.

    <state_dir>/appliances/<name>/
        haproxy.cfg        the config in force (HAProxy re-reads it on every reload)
        haproxy.cfg.prev   the one before it, restored when an apply fails
        haproxy.cfg.new    a candidate being validated
        haproxy.pid        the master's PID (written by HAProxy, `-p`)
        master.sock        the master CLI (`-S`)
        stats.sock         the runtime API (the config's `stats socket`)
        server-state       `show servers state` taken before a reload
        haproxy.out        HAProxy's output while it starts (it closes stdio once daemonised)
        appliance.json     {"netns": ..., "heartbeat_to": ["ip:port", ...]}
        applied.json       {"generation": ..., "config_sha256": ...} of haproxy.cfg
        tls/               the certificate, key, CA, CRL and crt-list files the config names
        vrrp.state         MASTER, BACKUP, FAULT or STOP: keepalived's last state (its notify
                           script writes it; the heartbeat reports it)
        haproxy            a symlink to the HAProxy binary, the command HAProxy is started with:
                           an argv[0] of this appliance alone, which keepalived tracks
        keepalived.conf    keepalived's config in force (re-read on SIGHUP); .new: a candidate
        keepalived.loaded  SHA-256 of the config keepalived was last started or reloaded with
        keepalived.pid     keepalived's PIDs: the parent (`-p`) and its VRRP child (`-r`)
        keepalived-vrrp.pid
        keepalived.out     keepalived's output while it starts
        vrrp.fifo          keepalived writes its state changes here (`vrrp_notify_fifo`) ...
        vrrp-notify.sh     ... and this script, which keepalived runs, turns them into vrrp.state
        haproxy-check.sh   exits 0 while this appliance's HAProxy runs (check-script profiles)
        log.sock           HAProxy's logs (UNIX datagrams; the agent binds it, log_receiver.py)

Everything the agent knows about an appliance is in these files, so a restarted agent finds
its appliances (and their running HAProxy) again without any other state.
"""

import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from steelyard.agent.contract import NAME_PATTERN

# sockaddr_un.sun_path is 108 bytes including the terminating NUL.
MAX_SOCKET_PATH = 107
_NAME = re.compile(NAME_PATTERN)
_LONGEST_NAME = "x" * 40


def valid_name(name: str) -> bool:
    # fullmatch, not match: "$" would also match before a trailing newline.
    return _NAME.fullmatch(name) is not None


@dataclass(frozen=True)
class ApplianceLayout:
    root: Path

    @property
    def cfg(self) -> Path:
        return self.root / "haproxy.cfg"

    @property
    def cfg_prev(self) -> Path:
        return self.root / "haproxy.cfg.prev"

    @property
    def cfg_new(self) -> Path:
        return self.root / "haproxy.cfg.new"

    @property
    def pid_file(self) -> Path:
        return self.root / "haproxy.pid"

    @property
    def master_socket(self) -> Path:
        return self.root / "master.sock"

    @property
    def stats_socket(self) -> Path:
        return self.root / "stats.sock"

    @property
    def server_state(self) -> Path:
        return self.root / "server-state"

    @property
    def output(self) -> Path:
        return self.root / "haproxy.out"

    @property
    def meta(self) -> Path:
        return self.root / "appliance.json"

    @property
    def applied(self) -> Path:
        return self.root / "applied.json"

    @property
    def tls_dir(self) -> Path:
        return self.root / "tls"

    @property
    def vrrp_state(self) -> Path:
        return self.root / "vrrp.state"

    @property
    def haproxy_command(self) -> Path:
        return self.root / "haproxy"

    @property
    def keepalived_cfg(self) -> Path:
        return self.root / "keepalived.conf"

    @property
    def keepalived_cfg_new(self) -> Path:
        return self.root / "keepalived.conf.new"

    @property
    def keepalived_loaded(self) -> Path:
        return self.root / "keepalived.loaded"

    @property
    def keepalived_pid(self) -> Path:
        return self.root / "keepalived.pid"

    @property
    def keepalived_vrrp_pid(self) -> Path:
        return self.root / "keepalived-vrrp.pid"

    @property
    def keepalived_output(self) -> Path:
        return self.root / "keepalived.out"

    @property
    def vrrp_fifo(self) -> Path:
        return self.root / "vrrp.fifo"

    @property
    def vrrp_notify_script(self) -> Path:
        return self.root / "vrrp-notify.sh"

    @property
    def haproxy_check_script(self) -> Path:
        return self.root / "haproxy-check.sh"

    @property
    def log_socket(self) -> Path:
        return self.root / "log.sock"


def appliances_dir(state_dir: Path) -> Path:
    return state_dir / "appliances"


def layout_for(state_dir: Path, name: str) -> ApplianceLayout:
    if not valid_name(name):
        raise ValueError(f"invalid appliance name {name!r}")
    return ApplianceLayout(appliances_dir(state_dir) / name)


def check_state_dir(state_dir: Path) -> None:
    """Fail early when the longest appliance name would not fit a UNIX socket path."""
    if not state_dir.is_absolute():
        raise ValueError(f"state dir must be absolute, got {state_dir}")
    longest = layout_for(state_dir, _LONGEST_NAME).master_socket
    if len(os.fsencode(longest)) > MAX_SOCKET_PATH:
        raise ValueError(
            f"state dir {state_dir} is too long: socket paths such as {longest} would exceed "
            f"{MAX_SOCKET_PATH} bytes"
        )


@dataclass(frozen=True)
class Applied:
    generation: int
    config_sha256: str


def read_applied(layout: ApplianceLayout) -> Applied | None:
    data = _read_json(layout.applied)
    if data is None:
        return None
    generation, digest = data.get("generation"), data.get("config_sha256")
    if not isinstance(generation, int) or not isinstance(digest, str):
        return None
    return Applied(generation, digest)


def write_applied(layout: ApplianceLayout, applied: Applied) -> None:
    write_text(
        layout.applied,
        json.dumps({"generation": applied.generation, "config_sha256": applied.config_sha256}),
    )


@dataclass(frozen=True)
class ApplianceMeta:
    netns: str | None
    heartbeat_to: tuple[str, ...] = ()  # "address:port" of each health manager


def read_meta(layout: ApplianceLayout) -> ApplianceMeta:
    data = _read_json(layout.meta) or {}
    netns = data.get("netns")
    targets = data.get("heartbeat_to")
    return ApplianceMeta(
        netns=netns if isinstance(netns, str) else None,
        heartbeat_to=tuple(t for t in targets if isinstance(t, str))
        if isinstance(targets, list)
        else (),
    )


def read_netns(layout: ApplianceLayout) -> str | None:
    return read_meta(layout).netns


def write_meta(layout: ApplianceLayout, meta: ApplianceMeta) -> None:
    write_text(
        layout.meta, json.dumps({"netns": meta.netns, "heartbeat_to": list(meta.heartbeat_to)})
    )


def write_text(path: Path, text: str) -> None:
    """Replace `path` atomically (0600). Not fsynced: after a crash the controller re-applies."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
