"""Golden files: tests/golden/keepalived/<case>.json renders to <case>.conf, or fails with
<case>.err.

A case is `{"vrrp": {...VrrpSpec fields...}, "profile": "STEELYARD", "profile_overrides":
{...}, "paths": {...}}`; `profile_overrides` and `paths` are optional (paths default to
`GOLDEN_PATHS`). Regenerate with `pytest tests/unit/render --update-golden` and review the diff.
"""

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from steelyard.model.vrrp import (
    PROFILES,
    GarpSettings,
    KeepalivedPaths,
    ProcessTracking,
    ScriptTracking,
    VipAddress,
    VrrpProfile,
    VrrpRole,
    VrrpSpec,
)
from steelyard.render.errors import RenderError
from steelyard.render.keepalived import render_keepalived
from tests.unit.render.test_haproxy_golden import compare_golden

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "golden" / "keepalived"
CASES = sorted(GOLDEN_DIR.glob("*.json"))
GOLDEN_PATHS = KeepalivedPaths(
    notify_fifo="/run/sy/a/vrrp.fifo",
    notify_script="/run/sy/a/vrrp-notify.sh",
    check_script="/run/sy/a/haproxy-check.sh",
    haproxy_command="/run/sy/a/haproxy",
)


def _only(data: Mapping[str, Any], cls: type[Any]) -> dict[str, Any]:
    names = {field.name for field in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown keys {sorted(unknown)}")
    return dict(data)


def profile_from_json(name: str, overrides: Mapping[str, Any]) -> VrrpProfile:
    values = _only(overrides, VrrpProfile)
    if "garp" in values:
        values["garp"] = GarpSettings(**_only(values["garp"], GarpSettings))
    if "haproxy_tracking" in values:
        tracking = values["haproxy_tracking"]
        values["haproxy_tracking"] = (
            ScriptTracking(**_only(tracking, ScriptTracking)) if tracking else ProcessTracking()
        )
    return dataclasses.replace(PROFILES[name], **values)


def load_case(path: Path, paths: KeepalivedPaths = GOLDEN_PATHS) -> VrrpSpec:
    data = json.loads(path.read_text())
    unknown = set(data) - {"vrrp", "profile", "profile_overrides", "paths", "comment"}
    if unknown:
        raise ValueError(f"{path.name}: unknown keys {sorted(unknown)}")
    vrrp = _only(data["vrrp"], VrrpSpec)
    if "paths" in data:
        paths = dataclasses.replace(paths, **_only(data["paths"], KeepalivedPaths))
    return VrrpSpec(
        router_id=vrrp["router_id"],
        interface=vrrp["interface"],
        role=VrrpRole(vrrp["role"]),
        unicast_src_ip=vrrp["unicast_src_ip"],
        unicast_peers=tuple(vrrp["unicast_peers"]),
        vips=tuple(VipAddress(**_only(vip, VipAddress)) for vip in vrrp["vips"]),
        profile=profile_from_json(data["profile"], data.get("profile_overrides", {})),
        paths=paths,
    )


def render_case(case: Path) -> tuple[str, str]:
    """(suffix, text): ("conf", config) when it renders, ("err", message) when it is refused."""
    spec = load_case(case)
    try:
        return "conf", render_keepalived(spec)
    except RenderError as error:
        return "err", f"{error}\n"


def test_cases_exist() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_golden(case: Path, update_golden: bool) -> None:
    suffix, actual = render_case(case)
    compare_golden(case, suffix, "conf", actual, update_golden)
