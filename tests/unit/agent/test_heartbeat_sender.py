"""The sender's pure parts: sequence numbers and keepalived's state file."""

from pathlib import Path

import pytest

from steelyard.agent.heartbeat import next_seq, read_vrrp_state


def test_sequence_numbers_follow_the_clock_and_always_grow() -> None:
    assert next_seq(0, 5_000_000_000) == 5_000_000
    assert next_seq(5_000_000, 5_000_000_000) == 5_000_001  # two sends within a microsecond
    assert next_seq(9_000_000, 5_000_000_000) == 9_000_001  # the clock stepped back


def test_a_restarted_agent_starts_above_what_it_sent_before() -> None:
    before = next_seq(0, 1_764_000_000 * 10**9)
    assert next_seq(0, 1_764_000_001 * 10**9) > before


@pytest.mark.parametrize(
    ("content", "state"),
    [
        ("MASTER\n", "MASTER"),
        ("  BACKUP  ", "BACKUP"),
        ("FAULT", "FAULT"),
        ("STOP\n", "STOP"),
        ("master", None),
        ("MASTER\nBACKUP", None),
        ("", None),
        ("\xff\xfe", None),
        ("MASTER" * 1000, None),
    ],
)
def test_vrrp_state_file(tmp_path: Path, content: str, state: str | None) -> None:
    path = tmp_path / "vrrp.state"
    path.write_text(content, encoding="latin-1")
    assert read_vrrp_state(path) == state


def test_no_vrrp_state_file_is_no_state(tmp_path: Path) -> None:
    assert read_vrrp_state(tmp_path / "vrrp.state") is None
    assert read_vrrp_state(tmp_path) is None  # a directory where the file should be
