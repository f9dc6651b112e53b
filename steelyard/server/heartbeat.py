"""Heartbeats in the embedded server: the key shared with the local agent, where appliances
send their heartbeats, and the health manager wired to the reconciler and the status writer."""

import ipaddress
import os
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from steelyard.controller.drift import DriftWatch
from steelyard.controller.observer import HeartbeatStatuses
from steelyard.health.manager import HealthManager, HealthSettings, StatusWriter
from steelyard.health.staleness import HealthPolicy
from steelyard.model.heartbeat import KEY_BYTES, ApplianceReport, Keyring, parse_key
from steelyard.server.settings import ServerSettings, parse_hostport

KEY_FILE = "heartbeat.key"
LOOPBACK = "127.0.0.1"


def ensure_heartbeat_key(state_dir: Path) -> Path:
    """The HMAC key file (32 random bytes, 0600), made once and kept."""
    path = state_dir / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        parse_key(path.read_bytes())  # a damaged key file stops the server here
        return path
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(KEY_BYTES))
    return path


def heartbeat_targets(gateway: str | None, port: int) -> list[str]:
    """Where an appliance sends its heartbeats: the host side of its VIP network's bridge (the
    only address a netns appliance reaches), or loopback for host appliances (no gateway)."""
    if gateway is None:
        return [f"{LOOPBACK}:{port}"]
    if ipaddress.ip_address(gateway).version == 6:
        return [f"[{gateway}]:{port}"]
    return [f"{gateway}:{port}"]


def each_of(*writers: StatusWriter) -> StatusWriter:
    """One status writer that hands every flush to each of `writers`, in order."""

    def write(reports: Sequence[ApplianceReport], now: datetime) -> None:
        for writer in writers:
            writer(reports, now)

    return write


def make_health_manager(
    settings: ServerSettings,
    key_file: Path,
    sessions: sessionmaker[Session],
    read_sessions: sessionmaker[Session],
    notify: Callable[[str], None],
    clock: Callable[[], datetime],
) -> HealthManager:
    host, port = parse_hostport(settings.heartbeat_listen)
    manager = HealthManager(
        sessions,
        Keyring([parse_key(key_file.read_bytes())]),
        HealthSettings(
            host=host,
            port=port,
            policy=HealthPolicy(
                timeout=timedelta(seconds=settings.heartbeat_timeout_s),
                breaker_share=settings.breaker_share,
                breaker_min=settings.breaker_min,
            ),
        ),
        notify=notify,
        clock=clock,
        status_writer=each_of(
            HeartbeatStatuses(sessions, read_sessions),
            DriftWatch(sessions, read_sessions, notify),  # resyncs a drifted appliance
        ),
        read_sessions=read_sessions,
    )
    return manager
