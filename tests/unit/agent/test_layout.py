"""Appliance names and paths: nothing outside the state dir, sockets that fit sun_path."""

from pathlib import Path

import pytest

from steelyard.agent.layout import (
    ApplianceLayout,
    ApplianceMeta,
    Applied,
    check_state_dir,
    layout_for,
    read_applied,
    read_meta,
    read_netns,
    valid_name,
    write_applied,
    write_meta,
)


@pytest.mark.parametrize("name", ["a", "lb-0b000000-slot-0", "x" * 40, "0abc"])
def test_valid_names(name: str) -> None:
    assert valid_name(name)


@pytest.mark.parametrize(
    "name",
    ["", "../x", "..", "a/b", "a\n", "a\nb", "A", "-a", "x" * 41, "a b", "a.b", "a\x00"],
)
def test_hostile_names(name: str) -> None:
    assert not valid_name(name)
    with pytest.raises(ValueError):
        layout_for(Path("/srv/sy"), name)


def test_layout_stays_under_the_state_dir() -> None:
    layout = layout_for(Path("/srv/sy"), "lb-1")
    assert layout.root == Path("/srv/sy/appliances/lb-1")
    assert layout.master_socket.parent == layout.root


def test_state_dir_must_leave_room_for_socket_paths() -> None:
    check_state_dir(Path("/var/lib/steelyard"))
    with pytest.raises(ValueError, match="too long"):
        check_state_dir(Path("/" + "d" * 60))
    with pytest.raises(ValueError, match="absolute"):
        check_state_dir(Path("relative"))


def test_records_round_trip(tmp_path: Path) -> None:
    layout = ApplianceLayout(tmp_path)
    assert read_applied(layout) is None
    write_applied(layout, Applied(7, "ab" * 32))
    assert read_applied(layout) == Applied(7, "ab" * 32)
    assert layout.applied.stat().st_mode & 0o777 == 0o600
    write_meta(layout, ApplianceMeta("tb-1", ("198.18.0.1:5555",)))
    assert read_netns(layout) == "tb-1"
    assert read_meta(layout) == ApplianceMeta("tb-1", ("198.18.0.1:5555",))
    write_meta(layout, ApplianceMeta(None))
    assert read_meta(layout) == ApplianceMeta(None, ())


def test_appliance_json_without_heartbeat_targets_reads_as_none(tmp_path: Path) -> None:
    layout = ApplianceLayout(tmp_path)
    layout.meta.write_text('{"netns": "tb-1"}')  # written by an agent before heartbeats
    assert read_meta(layout) == ApplianceMeta("tb-1", ())
    layout.meta.write_text('{"netns": 3, "heartbeat_to": ["127.0.0.1:1", 7]}')
    assert read_meta(layout) == ApplianceMeta(None, ("127.0.0.1:1",))


def test_damaged_records_read_as_missing(tmp_path: Path) -> None:
    layout = ApplianceLayout(tmp_path)
    layout.applied.write_text('{"generation": "7"}')
    assert read_applied(layout) is None
    layout.applied.write_text("not json")
    assert read_applied(layout) is None
    assert not list(tmp_path.glob(".*.tmp"))
