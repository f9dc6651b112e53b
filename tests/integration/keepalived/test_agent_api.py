"""The agent's keepalived surface without namespaces: hostile names and bodies, the paths it
reports, and its two scripts run for real with hostile input (no root needed).

HAProxy is a path that does not exist, so no HAProxy is ever started here; keepalived only
validates (`keepalived -t`, in the host's namespace).
"""

import os
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from steelyard.agent.keepalived_process import check_script, notify_script
from steelyard.agent.layout import layout_for
from steelyard.agent.server import create_agent_app

with warnings.catch_warnings():
    # Starlette 1.x would rather use httpx2, which is not a dependency; the httpx one works.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

HAPROXY = Path("/nonexistent/haproxy")
KEEPALIVED = shutil.which("keepalived")


@pytest.fixture
def state_dir(short_tmp: Path) -> Path:
    return short_tmp / "state"


@pytest.fixture
def api(state_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_agent_app(state_dir, haproxy_bin=HAPROXY)) as client:
        yield client


@pytest.mark.parametrize(
    "name", ["A1", "a_1", "-a", "x" * 41, "a%0A", "a%2Fb", "%2E%2E", "a%20b", "%22a%22"]
)
def test_release_refuses_bad_names(api: TestClient, name: str) -> None:
    assert api.post(f"/v1/appliances/{name}/vrrp/release").status_code == 400


def test_release_of_unknown_and_of_an_appliance_without_keepalived(api: TestClient) -> None:
    assert api.post("/v1/appliances/a1/vrrp/release").status_code == 404
    assert api.put("/v1/appliances/a1").status_code == 200
    refused = api.post("/v1/appliances/a1/vrrp/release")
    assert refused.status_code == 409 and "keepalived is not running" in refused.text


@pytest.mark.parametrize(
    "body", [{"drain_timeout_s": -1}, {"drain_timeout_s": 61}, {"drain_timeout_s": "soon"},
             {"drain_timeout_s": None}, {"drain_timeout_s": [5]}, [1], "x"], ids=repr
)  # fmt: skip
def test_release_refuses_a_bad_drain_timeout(api: TestClient, body: object) -> None:
    assert api.put("/v1/appliances/a1").status_code == 200
    assert api.post("/v1/appliances/a1/vrrp/release", json=body).status_code == 422


def test_info_names_the_keepalived_paths(api: TestClient, state_dir: Path) -> None:
    info = api.put("/v1/appliances/a1").json()
    root = state_dir / "appliances" / "a1"
    assert info["vrrp_state"] is None and info["keepalived_pid"] is None
    assert info["paths"]["keepalived"] == {
        "notify_fifo": str(root / "vrrp.fifo"),
        "notify_script": str(root / "vrrp-notify.sh"),
        "check_script": str(root / "haproxy-check.sh"),
        "haproxy_command": str(root / "haproxy"),
    }
    # HAProxy is started through this link, whose path is its argv[0].
    assert os.readlink(root / "haproxy") == str(HAPROXY)


@pytest.mark.parametrize(
    "keepalived_cfg", [123, ["vrrp_instance"], {"a": 1}, True, "x" * 200_001], ids=repr
)
def test_apply_refuses_malformed_keepalived_configs(
    api: TestClient, keepalived_cfg: object
) -> None:
    api.put("/v1/appliances/a1")
    body = {"generation": 1, "haproxy_cfg": "global\n", "keepalived_cfg": keepalived_cfg}
    assert api.put("/v1/appliances/a1/config", json=body).status_code == 422


@pytest.mark.skipif(KEEPALIVED is None, reason="keepalived is not installed")
@pytest.mark.parametrize(
    "keepalived_cfg",
    ["vrrp_instance x {\n", "this is not keepalived\n", "vrrp_instance x {\n}\n}\n"],
    ids=["unclosed", "unknown", "extra brace"],
)
def test_a_config_keepalived_rejects_is_refused_before_haproxy(
    api: TestClient, state_dir: Path, keepalived_cfg: str
) -> None:
    api.put("/v1/appliances/a1")
    body = {"generation": 1, "haproxy_cfg": "global\n", "keepalived_cfg": keepalived_cfg}
    response = api.put("/v1/appliances/a1/config", json=body)
    assert response.status_code == 400
    error = response.json()
    assert (error["stage"], error["component"], error["rolled_back"]) == (
        "validate",
        "keepalived",
        False,
    )
    layout = layout_for(state_dir, "a1")
    assert not layout.keepalived_cfg.exists() and not layout.keepalived_cfg_new.exists()
    assert not layout.cfg.exists()  # HAProxy's step never ran


def test_notify_script_keeps_only_state_words(short_tmp: Path) -> None:
    """keepalived's FIFO lines go through `read`; nothing in them is evaluated, and only the
    four state words of an INSTANCE line reach vrrp.state."""
    layout = layout_for(short_tmp, "a1")
    layout.root.mkdir(parents=True)
    script = layout.vrrp_notify_script
    script.write_text(notify_script(layout))
    script.chmod(0o700)
    os.mkfifo(layout.vrrp_fifo)
    canary = short_tmp / "pwned"
    lines = [
        'INSTANCE "steelyard" BACKUP 100',
        'INSTANCE "steelyard" MASTER 100',
        f'INSTANCE "x" $(touch {canary}) 100',
        f"INSTANCE x `touch {canary}` 1",
        "GROUP g FAULT 0",
        'INSTANCE "steelyard" MASTER_RX_LOWER_PRI 100',
        "INSTANCE x BACKUP;touch",
        "INSTANCE x MASTER\\",
        "",
        "garbage",
    ]
    script_run = subprocess.Popen(["/bin/sh", str(script), str(layout.vrrp_fifo)])
    try:
        with layout.vrrp_fifo.open("w") as fifo:
            fifo.write("\n".join(lines) + "\n")
        assert script_run.wait(timeout=10) == 0
    finally:
        if script_run.poll() is None:
            script_run.kill()
            script_run.wait()
    assert layout.vrrp_state.read_text() == "MASTER\n"
    assert not canary.exists()
    assert sorted(p.name for p in layout.root.iterdir()) == [
        "vrrp-notify.sh",
        "vrrp.fifo",
        "vrrp.state",
    ]


def test_check_script_accepts_only_this_appliances_haproxy(short_tmp: Path) -> None:
    layout = layout_for(short_tmp, "a1")
    layout.root.mkdir(parents=True)
    script = layout.haproxy_check_script
    script.write_text(check_script(layout))
    script.chmod(0o700)

    def check() -> int:
        return subprocess.run([str(script)], capture_output=True, timeout=10).returncode

    assert check() == 1  # no pid file
    for text in ("", "abc", "1 2", "-1", "$(id)", str(os.getpid())):  # ours: not HAProxy's argv[0]
        layout.pid_file.write_text(text + "\n")
        assert check() == 1, text
    # A process whose argv[0] is the appliance's HAProxy command passes.
    impostor = subprocess.Popen(["sleep", "30"], executable="/bin/sleep")
    named = subprocess.Popen(
        [str(layout.haproxy_command), "30"], executable=shutil.which("sleep") or "/bin/sleep"
    )
    try:
        layout.pid_file.write_text(f"{impostor.pid}\n")
        assert check() == 1
        layout.pid_file.write_text(f"{named.pid}\n")
        assert check() == 0
    finally:
        for process in (impostor, named):
            process.kill()
            process.wait()
    assert check() == 1  # gone
