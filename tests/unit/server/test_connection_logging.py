"""`steelyard serve --no-connection-logging`: the setting reaches ServerSettings, and the
rendered config keeps HAProxy's own messages while listeners log no requests."""

import dataclasses

import pytest
from typer.testing import CliRunner

from steelyard.cli.main import app
from steelyard.render.haproxy import render_haproxy
from steelyard.render.haproxy_log import FORMAT_TAG
from steelyard.server import run
from steelyard.server.settings import ServerSettings
from tests.unit.render.spec_json import GOLDEN_PATHS, load_case
from tests.unit.render.test_haproxy_golden import GOLDEN_DIR as GOLDEN


def _served_settings(monkeypatch: pytest.MonkeyPatch, *args: str) -> ServerSettings:
    seen: list[ServerSettings] = []
    monkeypatch.setattr(run, "serve", seen.append)
    result = CliRunner().invoke(app, ["serve", "--state-dir", "/nonexistent", *args])
    assert result.exit_code == 0, result.output
    return seen[0]


def test_connection_logging_is_on_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _served_settings(monkeypatch).connection_logging is True


def test_no_connection_logging_switches_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _served_settings(monkeypatch, "--no-connection-logging")
    assert settings.connection_logging is False


@pytest.mark.parametrize("value", ["no", "0\n--x", "false'"])
def test_the_switch_takes_no_value(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setattr(run, "serve", lambda _: None)
    result = CliRunner().invoke(
        app, ["serve", "--state-dir", "/x", "--no-connection-logging", value]
    )
    assert result.exit_code != 0


def test_off_keeps_haproxy_messages_and_drops_the_flow_format() -> None:
    spec, settings = load_case(GOLDEN / "logging.json", GOLDEN_PATHS)
    on = render_haproxy(spec, settings)
    off = render_haproxy(spec, dataclasses.replace(settings, connection_logging=False))
    assert FORMAT_TAG + "|" in on and "no log" not in on
    assert FORMAT_TAG + "|" not in off
    # The global log target and `log global` (backends: server up/down) stay.
    for line in ("log /run/sy/a/log.sock len 4096 format rfc5424 local0", "log global"):
        assert line in off
    assert off.count("    no log\n") == len(spec.listeners)
