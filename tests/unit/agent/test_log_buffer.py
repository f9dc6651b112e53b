"""The agent's log buffer: one sequence over every appliance, bounded per appliance, and a
cursor that a reader keeps between calls."""

from datetime import UTC, datetime

from steelyard.agent.log_buffer import LogBuffer

T = datetime(2026, 11, 26, tzinfo=UTC)


def messages(buffer: LogBuffer, after: int = 0, limit: int = 100) -> list[str]:
    return [record.message for record in buffer.read(after, limit).records]


def test_records_of_every_appliance_in_arrival_order_with_a_cursor() -> None:
    buffer = LogBuffer()
    for text, appliance in (("a1", "a"), ("b1", "b"), ("agent", None), ("a2", "a")):
        buffer.add(appliance, "agent", T, "info", text)
    first = buffer.read(0, 2)
    assert [r.message for r in first.records] == ["a1", "b1"] and first.cursor == 2
    rest = buffer.read(first.cursor, 100)
    assert [(r.appliance, r.message) for r in rest.records] == [(None, "agent"), ("a", "a2")]
    assert buffer.read(rest.cursor, 100).records == [] and buffer.read(rest.cursor, 1).cursor == 4


def test_a_noisy_appliance_evicts_only_its_own_oldest_records() -> None:
    buffer = LogBuffer(capacity=3)
    buffer.add("quiet", "agent", T, "info", "q")
    for i in range(10):
        buffer.add("noisy", "flow", T, "info", f"n{i}")
    batch = buffer.read(0, 100)
    assert [r.message for r in batch.records] == ["q", "n7", "n8", "n9"]
    assert batch.dropped == 7


def test_a_cursor_beyond_the_end_reads_nothing_and_is_clamped() -> None:
    buffer = LogBuffer()
    buffer.add("a", "agent", T, "info", "x")
    assert buffer.read(50, 10).cursor == 1  # e.g. a cursor of an earlier agent (new epoch)


def test_a_forgotten_appliance_is_dropped_once_read() -> None:
    buffer = LogBuffer()
    buffer.add("gone", "agent", T, "info", "last words")
    buffer.forget("gone")
    assert messages(buffer) == ["last words"]  # still delivered
    assert messages(buffer) == []  # then dropped
    buffer.add("gone", "agent", T, "info", "made again")
    assert messages(buffer, after=1) == ["made again"]
