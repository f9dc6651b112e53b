"""Every golden case renders to a configuration that HAProxy itself accepts (`haproxy -c`).

Cases are rendered again with runtime paths inside a temporary directory, so that nothing
depends on /run; TLS cases get real certificates, keys, CAs and CRLs there (tests/support/certs).
Warnings fail the test too, except the one about the server state file, which the agent only
writes before a reload.
"""

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from steelyard.model.spec import RuntimePaths
from steelyard.render.haproxy import render_haproxy
from tests.support.certs import write_tls_files
from tests.unit.render.spec_json import load_case
from tests.unit.render.test_haproxy_golden import CASES

HAPROXY = shutil.which("haproxy") or next(
    (path for path in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if Path(path).exists()),
    None,
)
pytestmark = pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")

RENDERED = [case for case in CASES if case.with_suffix(".cfg").exists()]
# Before the agent's first reload there is no state file yet; HAProxy says so and carries on.
_EXPECTED_WARNINGS = ("server state file",)


def _unexpected_warnings(output: str) -> list[str]:
    return [
        line
        for line in output.splitlines()
        if "[WARNING]" in line and not any(text in line for text in _EXPECTED_WARNINGS)
    ]


def test_rendered_cases_exist() -> None:
    assert len(RENDERED) >= 15


@pytest.mark.parametrize("case", RENDERED, ids=[case.stem for case in RENDERED])
def test_haproxy_accepts_golden(case: Path, tmp_path: Path) -> None:
    assert HAPROXY is not None
    paths = RuntimePaths(
        str(tmp_path / "stats.sock"), str(tmp_path / "server-state"), tls_dir=str(tmp_path / "tls")
    )
    spec, settings = load_case(case, paths)
    write_tls_files(spec, tmp_path / "tls")
    if settings.paths.log_socket is not None:
        log_socket = str(tmp_path / "log.sock")
        settings = replace(settings, paths=replace(settings.paths, log_socket=log_socket))
    config = tmp_path / "haproxy.cfg"
    config.write_text(render_haproxy(spec, settings))
    # The agent names the local peer with -L; without it HAProxy drops the peers section.
    local_peer = ["-L", settings.local_peer] if settings.local_peer is not None else []
    result = subprocess.run(
        [HAPROXY, "-c", *local_peer, "-f", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert _unexpected_warnings(output) == [], output
