"""The log collector of the embedded server: its own client of the local agent (the
reconciler's is busy with applies), the deployment's retention and syslog targets."""

import ssl
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from steelyard.agent.client import AgentClient
from steelyard.server.settings import ServerSettings
from steelyard.telemetry.logs_collector import LogCollector
from steelyard.telemetry.logs_retention import Retention
from steelyard.telemetry.syslog_sender import SyslogSender, parse_target


def start_log_collector(
    settings: ServerSettings,
    sessions: sessionmaker[Session],
    agent_url: str,
    ssl_context: ssl.SSLContext,
    clock: Callable[[], datetime],
) -> LogCollector:
    collector = LogCollector(
        sessions,
        AgentClient(agent_url, ssl_context, timeout=10),
        clock,
        Retention(timedelta(hours=settings.log_retention_hours), settings.log_max_rows),
        flow_targets=[SyslogSender(parse_target(text)) for text in settings.log_targets],
        admin_targets=[SyslogSender(parse_target(text)) for text in settings.admin_log_targets],
    )
    collector.start()
    return collector
