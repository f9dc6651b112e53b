"""Octavia 19's haproxy.cfg for the benchmark's spec, and a namespace to run it in.

The config comes from ../shared/peer-octavia/octavia_render.py (Octavia's own JinjaTemplater,
run in the Octavia venv that ../shared/peer-octavia/setup_venv.sh makes). It runs in a network
namespace made here the way Steelyard's netns driver makes an appliance's: a veth whose host end
is a port of the same VIP bridge, the address on `eth0` with the subnet's prefix length, and
Steelyard's appliance sysctls (imported, not copied), so that both load balancers sit on the
same path from the client and to the backend.
"""

import json
import os
import secrets
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import REPO
from steelyard.compute.netns_plan import DEFAULT_SYSCTLS

PEER_DIR = Path(
    os.environ.get("OCTAVIA_PEER_DIR", REPO.parent / "shared" / "peer-octavia")
).resolve()
VENV = Path(os.environ.get("OCTAVIA_VENV", "/tmp/octavia-peer-venv"))


class PeerUnavailable(RuntimeError):
    """The Octavia side cannot be set up here (the reason is the message)."""


@dataclass(frozen=True)
class Rendered:
    config: Path
    user_group: Path
    peer_name: str
    info: dict[str, Any]  # what octavia_render.py printed

    def haproxy_args(self) -> tuple[list[Path], list[str]]:
        """Config files and extra arguments, as the amphora runs it."""
        return [self.config, self.user_group], ["-L", self.peer_name]


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if python.exists():
        return python
    setup = PEER_DIR / "setup_venv.sh"
    if not setup.exists():
        raise PeerUnavailable(f"{setup} is missing")
    done = subprocess.run(
        ["bash", str(setup)], capture_output=True, text=True, check=False, timeout=900
    )
    if done.returncode != 0 or not python.exists():
        raise PeerUnavailable(f"setup_venv.sh failed: {(done.stdout + done.stderr)[-1500:]}")
    return python


def render(spec: Mapping[str, Any], workdir: Path) -> Rendered:
    """Octavia's config for `spec`, with connection logging off (Steelyard logs none either)."""
    python = ensure_venv()
    workdir.mkdir(parents=True, exist_ok=True)
    spec_path, config = workdir / "spec.json", workdir / "haproxy.cfg"
    spec_path.write_text(json.dumps(spec, indent=2))
    done = subprocess.run(
        [python, PEER_DIR / "octavia_render.py", spec_path, config, "--run-dir",
         workdir / "run", "--no-connection-logging"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise PeerUnavailable(f"octavia_render.py failed: {(done.stdout + done.stderr)[-1500:]}")
    info: dict[str, Any] = json.loads(done.stdout)
    if "warning" in info:
        raise PeerUnavailable(f"octavia_render.py: {info['warning']}")
    return Rendered(config, Path(info["user_group_file"]), info["peer_name"], info)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextmanager
def namespace_on_bridge(bridge: str, interface: str) -> Iterator[str]:
    """A namespace with `eth0` = `interface` (address/prefix) on `bridge`; removed after."""
    tag = secrets.token_hex(3)
    netns, veth = f"syboct-{tag}", f"sybo{tag}"
    try:
        _ip("netns", "add", netns)
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
        _ip("link", "set", veth, "master", bridge, "up")
        _ip("-n", netns, "link", "set", "lo", "up")
        _ip("-n", netns, "link", "set", "eth0", "up")
        _ip("-n", netns, "addr", "add", interface, "dev", "eth0")
        settings = [f"{key}={value}" for key, value in DEFAULT_SYSCTLS.items()]
        subprocess.run(
            ["ip", "netns", "exec", netns, "sysctl", "-q", "-w", *settings],
            check=True, capture_output=True,
        )  # fmt: skip
        yield netns
    finally:
        with suppress(subprocess.CalledProcessError):
            _ip("link", "del", veth)
        with suppress(subprocess.CalledProcessError):
            _ip("netns", "del", netns)


def bridge_of(address: str) -> str:
    """The host link that holds `address` (the VIP network's gateway: its bridge)."""
    done = subprocess.run(
        ["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True, check=True
    )
    for link in json.loads(done.stdout):
        if any(info.get("local") == address for info in link.get("addr_info", [])):
            return str(link["ifname"])
    raise PeerUnavailable(f"no host link holds {address}")
