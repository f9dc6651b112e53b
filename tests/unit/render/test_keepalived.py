"""render_keepalived: roles, profiles, and hostile values (each is refused, never written)."""

import dataclasses
import random
import string
from typing import Any

import pytest

from steelyard.model.vrrp import (
    OCTAVIA_DEFAULTS,
    STEELYARD,
    ProcessTracking,
    ScriptTracking,
    VipAddress,
    VrrpRole,
    VrrpSpec,
)
from steelyard.render.errors import RenderError
from steelyard.render.keepalived import MAX_PEERS, MAX_VIPS, render_keepalived
from tests.unit.render.test_keepalived_golden import GOLDEN_PATHS

SPEC = VrrpSpec(
    router_id=51,
    interface="eth0",
    role=VrrpRole.MASTER,
    unicast_src_ip="198.18.0.11",
    unicast_peers=("198.18.0.12",),
    vips=(VipAddress("198.18.0.10", 24),),
    profile=STEELYARD,
    paths=GOLDEN_PATHS,
)
HOSTILE_TEXT = [
    "",
    " ",
    "eth0\n",
    "eth0\nvrrp_instance x {",
    "eth0 }",
    "eth0{",
    '"eth0"',
    "'eth0'",
    "eth0#x",
    "eth0!x",
    "eth0;reboot",
    "$(reboot)",
    "`reboot`",
    "eth0\\",
    "eth0\x00",
    "eth0\r",
    "eth0\t",
    "ethé",
    "x" * 10_000,
]


def _render(**changes: Any) -> str:
    return render_keepalived(dataclasses.replace(SPEC, **changes))


def _lines(**changes: Any) -> list[str]:
    return [line.strip() for line in _render(**changes).splitlines()]


def test_master_and_backup_differ_only_in_priority() -> None:
    master = _lines()
    backup = _lines(role=VrrpRole.BACKUP)
    assert "priority 100" in master and "priority 90" in backup
    assert [a for a, b in zip(master, backup, strict=True) if a != b] == ["priority 100"]
    # Both start as BACKUP and never preempt (module docstring).
    for lines in (master, backup):
        assert "state BACKUP" in lines and "nopreempt" in lines


def test_role_accepts_the_plain_string() -> None:
    assert _render(role="BACKUP") == _render(role=VrrpRole.BACKUP)


def test_steelyard_profile_tracks_the_haproxy_command() -> None:
    lines = _lines()
    assert "version 3" in lines and "advert_int 0.1" in lines
    assert f"process {GOLDEN_PATHS.haproxy_command}" in lines
    assert "full_command" in lines and "track_process {" in lines
    assert not any(line.startswith("vrrp_script") for line in lines)


def test_octavia_profile_runs_a_check_script() -> None:
    lines = _lines(profile=OCTAVIA_DEFAULTS)
    assert "version 2" in lines and "advert_int 1" in lines
    assert f"script {GOLDEN_PATHS.check_script}" in lines
    checks = [line for line in lines if line.split(" ")[0] in ("interval", "fall", "rise")]
    assert checks == ["interval 5", "fall 2", "rise 2"]
    assert not any(line.startswith("vrrp_track_process") for line in lines)


@pytest.mark.parametrize(
    ("milliseconds", "text"),
    [(10, "0.01"), (100, "0.1"), (250, "0.25"), (1000, "1"), (1500, "1.5")],
)
def test_advert_interval_in_seconds(milliseconds: int, text: str) -> None:
    profile = dataclasses.replace(STEELYARD, advert_int_ms=milliseconds)
    assert f"advert_int {text}" in _lines(profile=profile)


def test_only_the_first_vip_is_advertised() -> None:
    vips = (
        VipAddress("198.18.0.10", 24),
        VipAddress("fd00:5::10", 64),
        VipAddress("198.18.0.20", 24),
    )
    text = _render(vips=vips)
    advertised = text.split("virtual_ipaddress {")[1].split("}")[0]
    excluded = text.split("virtual_ipaddress_excluded {")[1].split("}")[0]
    assert advertised.split() == ["198.18.0.10/24", "dev", "eth0"]
    assert "fd00:5::10/64" in excluded and "198.18.0.20/24" in excluded


def test_addresses_are_written_compressed() -> None:
    text = _render(
        unicast_src_ip="FD00:5:0::11",
        unicast_peers=("fd00:5:0:0::12",),
        vips=(VipAddress("fd00:0005::10", 64),),
    )
    assert "unicast_src_ip fd00:5::11" in text and "fd00:5::12\n" in text
    assert "fd00:5::10/64 dev eth0" in text


@pytest.mark.parametrize("value", HOSTILE_TEXT)
def test_hostile_interface_is_refused(value: str) -> None:
    with pytest.raises(RenderError, match="interface"):
        _render(interface=value)


@pytest.mark.parametrize(
    "field", ["notify_fifo", "notify_script", "check_script", "haproxy_command"]
)
@pytest.mark.parametrize("suffix", [s for s in HOSTILE_TEXT if s] + [" -x", "/a b", "/a{b}"])
def test_hostile_paths_are_refused(field: str, suffix: str) -> None:
    paths = dataclasses.replace(GOLDEN_PATHS, **{field: "/run/sy/a" + suffix})
    with pytest.raises(RenderError, match=f"paths.{field}"):
        _render(paths=paths)


@pytest.mark.parametrize("value", [*HOSTILE_TEXT, "198.18.0.12 ", "198.18.0.12\n", "fe80::1%eth0"])
def test_hostile_addresses_are_refused(value: str) -> None:
    with pytest.raises(RenderError):
        _render(unicast_peers=(value,))
    with pytest.raises(RenderError):
        _render(unicast_src_ip=value)
    with pytest.raises(RenderError):
        _render(vips=(VipAddress(value, 24),))


@pytest.mark.parametrize(
    "changes",
    [
        {"router_id": True},
        {"router_id": "51"},
        {"router_id": 51.0},
        {"router_id": -1},
        {"router_id": 10**100},
        {"unicast_peers": ["198.18.0.12"]},  # a list, not a tuple
        {"unicast_peers": "198.18.0.12"},
        {"unicast_peers": tuple(f"198.18.0.{20 + i}" for i in range(MAX_PEERS + 1))},
        {"unicast_peers": (12,)},
        {"vips": ()},
        {"vips": (("198.18.0.10", 24),)},
        {"vips": tuple(VipAddress(f"198.18.1.{i}", 24) for i in range(1, MAX_VIPS + 2))},
        {"vips": (VipAddress("198.18.0.10", 24), VipAddress("198.18.0.10", 32))},
        {"vips": (VipAddress("198.18.0.10", True),)},
        {"vips": (VipAddress("198.18.0.10", 0),)},
        {"vips": (VipAddress("224.0.0.18", 24),)},
        {"vips": (VipAddress("0.0.0.0", 24),)},
        {"role": "master"},
        {"role": "OWNER"},
        {"profile": "STEELYARD"},
        {"paths": None},
    ],
    ids=repr,
)
def test_wrong_types_and_ranges_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(RenderError):
        _render(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"version": 4},
        {"advert_int_ms": 5},
        {"advert_int_ms": 105},
        {"advert_int_ms": 41_000},
        {"master_priority": 1},
        {"backup_priority": 0},
        {"haproxy_tracking": ScriptTracking(interval_s=0, fall=1, rise=1)},
        {"haproxy_tracking": ScriptTracking(interval_s=1, fall=0, rise=1)},
        {"haproxy_tracking": ScriptTracking(interval_s=1, fall=1, rise=101)},
        {"haproxy_tracking": None},
        {"garp": None},
        {"garp": dataclasses.replace(STEELYARD.garp, master_repeat=0)},
        {"garp": dataclasses.replace(STEELYARD.garp, refresh_s=-1)},
        {"max_auto_priority": 100},
        {"max_auto_priority": 0},
    ],
    ids=repr,
)
def test_bad_profiles_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(RenderError, match="profile"):
        _render(profile=dataclasses.replace(STEELYARD, **changes))


def test_not_a_spec_is_refused() -> None:
    with pytest.raises(RenderError):
        render_keepalived(dataclasses.asdict(SPEC))  # type: ignore[arg-type]


def test_process_tracking_is_the_default_of_steelyard() -> None:
    assert isinstance(STEELYARD.haproxy_tracking, ProcessTracking)


def test_random_text_never_reaches_the_file() -> None:
    """Whatever a string field holds, the result is a refusal or the value as one clean token."""
    rng = random.Random(20261126)
    alphabet = string.printable + "\x00\x7f\u2028é{}"
    for _ in range(2000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 20)))
        for changes in (
            {"interface": value},
            {"paths": dataclasses.replace(GOLDEN_PATHS, notify_script="/" + value)},
            {"unicast_peers": (value,)},
        ):
            try:
                text = _render(**changes)
            except RenderError:
                continue
            # Accepted: it must have been written whole, as one token of safe characters.
            assert all(
                set(token) <= set(string.ascii_letters + string.digits + "._/:-")
                for line in text.splitlines()
                for token in line.split()
                if token not in ("{", "}")
            )
