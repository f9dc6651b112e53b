"""The embedded server's heartbeat pieces: the key file and where appliances send."""

from pathlib import Path

import pytest

from steelyard.model.heartbeat import parse_key
from steelyard.server.heartbeat import KEY_FILE, ensure_heartbeat_key, heartbeat_targets


def test_the_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    path = ensure_heartbeat_key(tmp_path)
    assert path == tmp_path / KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    key = parse_key(path.read_bytes())
    assert ensure_heartbeat_key(tmp_path) == path
    assert parse_key(path.read_bytes()) == key


def test_a_damaged_key_file_stops_the_server(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_bytes(b"short")
    with pytest.raises(ValueError, match="heartbeat key"):
        ensure_heartbeat_key(tmp_path)


@pytest.mark.parametrize(
    ("gateway", "targets"),
    [
        ("198.18.0.1", ["198.18.0.1:5555"]),
        ("fd00::1", ["[fd00::1]:5555"]),
        (None, ["127.0.0.1:5555"]),  # the process driver: appliances on the host
    ],
)
def test_appliances_send_to_their_networks_gateway(gateway: str | None, targets: list[str]) -> None:
    assert heartbeat_targets(gateway, 5555) == targets
