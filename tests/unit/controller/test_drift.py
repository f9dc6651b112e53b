"""The drift decision (controller/drift.py): pure, heartbeat by heartbeat."""

from pathlib import Path

import pytest

from steelyard.agent.heartbeat import FileDigests
from steelyard.controller.drift import (
    AGAIN_AFTER_HEARTBEATS,
    Action,
    DriftState,
    Observation,
    observe,
    step,
)
from steelyard.db.drift import Drift, Expected
from steelyard.model.heartbeat import Heartbeat

APPLIED = "a" * 64
EDITED = "e" * 64
EXPECTED = Expected("lb-1", generation=7, config_sha256=APPLIED, settled=True)


def beat(
    seq: int, sha: str | None = APPLIED, generation: int | None = 7, running: bool = True
) -> Heartbeat:
    return Heartbeat("app-1", seq, 0.0, generation, sha, running, None)


def drift_of(heartbeat: Heartbeat) -> Drift:
    return Drift("app-1", "lb-1", 7, APPLIED, heartbeat.generation, heartbeat.config_sha256)


@pytest.mark.parametrize(
    ("expected", "heartbeat", "seen"),
    [
        (EXPECTED, beat(1), "matches"),
        (EXPECTED, beat(1, sha=EDITED), "drifted"),  # edited by hand
        (EXPECTED, beat(1, generation=6), "drifted"),  # an older config in force
        (EXPECTED, beat(1, sha=None), "drifted"),  # the file is gone
        (EXPECTED, beat(1, running=False), "unknown"),  # a dead HAProxy: repaired elsewhere
        (EXPECTED, beat(1, generation=None), "unknown"),  # no config yet
        (None, beat(1, sha=EDITED), "unknown"),  # not (or no longer) serving
        (Expected("lb-1", 7, APPLIED, settled=False), beat(1, sha=EDITED), "unknown"),  # mid-apply
        (Expected("lb-1", 7, None, settled=True), beat(1, sha=EDITED), "unknown"),  # never applied
    ],
)
def test_observe(expected: Expected | None, heartbeat: Heartbeat, seen: Observation) -> None:
    assert observe(expected, heartbeat) == seen


def run(observations: list[tuple[int, Observation]]) -> list[Action]:
    state, actions = DriftState(), []
    for seq, seen in observations:
        state, action = step(state, seq, seen, drift_of(beat(seq, sha=EDITED)))
        actions.append(action)
    return actions


def test_one_drifted_heartbeat_is_not_drift() -> None:
    # A heartbeat sent just before an apply finished reports the previous config once.
    assert run([(1, "matches"), (2, "drifted"), (3, "matches"), (4, "drifted")]) == [None] * 4


def test_drift_after_two_heartbeats_declared_once_then_repaired_once() -> None:
    actions = run(
        [
            (1, "drifted"),
            (2, "drifted"),  # declared: event and resync
            (3, "drifted"),
            (4, "unknown"),  # the resync makes the load balancer mid-apply
            (5, "matches"),  # the reconciler pushed the config again
            (6, "matches"),
        ]
    )
    assert actions == [None, "drift", None, None, "repaired", None]


def test_a_heartbeat_counts_once_and_unknown_neither_counts_nor_resets() -> None:
    assert run([(1, "drifted"), (1, "drifted"), (2, "unknown"), (3, "drifted")]) == [
        None,
        None,
        None,
        "drift",
    ]
    assert run([(5, "drifted"), (4, "drifted")]) == [None, None]  # an old heartbeat


def test_the_open_drift_is_the_one_reported_when_repaired() -> None:
    state, _ = step(DriftState(), 1, "drifted", drift_of(beat(1, sha=EDITED)))
    state, action = step(state, 2, "drifted", drift_of(beat(2, sha=EDITED)))
    assert action == "drift" and state.open is not None
    assert state.open.reported_sha256 == EDITED and state.open.expected_sha256 == APPLIED
    state, action = step(state, 3, "matches", drift_of(beat(3)))
    assert action == "repaired" and state == DriftState(last_seq=3)


def test_a_drift_the_resync_did_not_cure_is_reported_again() -> None:
    seen: list[tuple[int, Observation]] = [(seq, "drifted") for seq in range(1, 70)]
    drifts = [seq for (seq, _), action in zip(seen, run(seen), strict=True) if action == "drift"]
    assert drifts == [2, AGAIN_AFTER_HEARTBEATS, 2 * AGAIN_AFTER_HEARTBEATS]


def test_file_digests_follow_edits(tmp_path: Path) -> None:
    path = tmp_path / "haproxy.cfg"
    digests = FileDigests()
    assert digests.of(path) is None
    path.write_text("global\n")
    first = digests.of(path)
    assert first is not None and digests.of(path) == first
    path.write_text("global\n    maxconn 1\n")  # an edit in place (same inode)
    assert digests.of(path) not in (None, first)
    digests.keep_only(set())
    assert digests.of(path) is not None
