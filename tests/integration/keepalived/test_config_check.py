"""Every golden keepalived config is accepted by keepalived itself (`keepalived -t`), inside an
appliance namespace (the configs name eth0), with the scripts they name in place."""

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from steelyard.agent.keepalived_process import DEFAULT_BINARY
from steelyard.compute.base import ApplianceSlot
from steelyard.compute.netns import NetnsDriver
from steelyard.render.keepalived import render_keepalived
from tests.support import VipNetwork
from tests.unit.render.test_keepalived_golden import CASES, GOLDEN_PATHS, load_case

KEEPALIVED = shutil.which("keepalived") or (
    str(DEFAULT_BINARY) if DEFAULT_BINARY.exists() else None
)
RENDERED = [case for case in CASES if case.with_suffix(".conf").exists()]
pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(KEEPALIVED is None, reason="keepalived is not installed"),
]


def test_rendered_cases_exist() -> None:
    assert len(RENDERED) >= 8


@pytest.fixture
def appliance_netns(netns_driver: NetnsDriver, network_v4: VipNetwork) -> str:
    placed = netns_driver.ensure(ApplianceSlot("check", network_v4.placement()))
    assert placed.netns is not None
    return placed.netns


@pytest.mark.parametrize("case", RENDERED, ids=[case.stem for case in RENDERED])
def test_keepalived_accepts_golden(case: Path, tmp_path: Path, appliance_netns: str) -> None:
    assert KEEPALIVED is not None
    paths = GOLDEN_PATHS
    for field in ("notify_script", "check_script", "haproxy_command"):
        script = tmp_path / Path(getattr(paths, field)).name
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(0o700)
        paths = dataclasses.replace(paths, **{field: str(script)})
    paths = dataclasses.replace(paths, notify_fifo=str(tmp_path / "vrrp.fifo"))
    config = tmp_path / "keepalived.conf"
    config.write_text(render_keepalived(load_case(case, paths)))
    result = subprocess.run(
        [KEEPALIVED, "--namespace", appliance_netns, "-t", "-f", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert output == "", output  # not even a warning
