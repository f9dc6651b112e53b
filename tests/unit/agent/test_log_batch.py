"""The compact answer of `GET /v1/logs`: rows survive the trip through JSON, and a reader
refuses any answer whose values could not be stored as they are."""

import json
from datetime import UTC, datetime

import pytest

from steelyard.agent.log_buffer import LogBuffer
from steelyard.agent.log_records import FLOW_COLUMNS, LogBatch, LogBatchError, to_micros

T = datetime(2026, 11, 26, 4, 0, 0, 123456, tzinfo=UTC)
FLOW = (
    "a0000000-0000-4000-8000-000000000001", "198.51.100.7", 40000, None, None, 404, 10, 20,
    0, 0, 1, 2, 3, "----", "GET", "/x", "HTTP/1.1",
)  # fmt: skip


def batch() -> LogBatch:
    buffer = LogBuffer()
    buffer.add("app-1", "flow", T, "info", flow=FLOW)
    buffer.add("app-1", "haproxy", T, "alert", "Server a/b is DOWN")
    buffer.add(None, "agent", T, "info", "agent started")
    return buffer.read(0, 10)


def wire(value: LogBatch) -> dict[str, object]:
    decoded = json.loads(value.to_json())
    assert isinstance(decoded, dict)
    return decoded


def test_rows_survive_json_and_read_as_records() -> None:
    sent = batch()
    received = LogBatch.from_json(wire(sent))
    assert received == sent
    flow, down, started = received.records
    assert flow.flow is not None and flow.flow.accepted_at == T and flow.time == T
    assert (flow.flow.status_code, flow.flow.request_uri) == (404, "/x")
    assert (down.source, down.severity, down.message) == ("haproxy", "alert", "Server a/b is DOWN")
    assert started.appliance is None and started.flow is None


def bad_flow(column: str, value: object) -> dict[str, object]:
    body = wire(batch())
    rows = body["rows"]
    assert isinstance(rows, list)
    rows[0][6][FLOW_COLUMNS.index(column)] = value
    return body


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("status_code", "404"),  # a string where a number goes
        ("status_code", True),  # JSON true is no number
        ("bytes_in", 1.5),
        ("request_uri", 7),
        ("request_uri", "x" * 5000),  # longer than anything the agent keeps
        ("listener_id", None),  # required
        ("client_address", None),
    ],
)
def test_a_flow_value_of_the_wrong_type_or_size_is_refused(column: str, value: object) -> None:
    with pytest.raises(LogBatchError):
        LogBatch.from_json(bad_flow(column, value))


@pytest.mark.parametrize(
    ("index", "value"),
    [
        (0, -1),  # seq
        (0, "1"),
        (1, 5),  # appliance
        (1, "a" * 65),
        (2, "flow\n"),  # source
        (3, 10**30),  # a time no datetime holds
        (3, -(10**30)),
        (3, "2026-11-26"),
        (4, "loud"),  # severity
        (5, "m" * 5000),  # message
        (6, None),  # a flow record without its values
    ],
)
def test_a_row_value_out_of_place_is_refused(index: int, value: object) -> None:
    body = wire(batch())
    rows = body["rows"]
    assert isinstance(rows, list)
    rows[0][index] = value
    with pytest.raises(LogBatchError):
        LogBatch.from_json(body)


def test_flow_times_before_the_epoch_and_extra_values_are_refused() -> None:
    body = wire(batch())
    rows = body["rows"]
    assert isinstance(rows, list)
    rows[0][3] = -1
    with pytest.raises(LogBatchError):
        LogBatch.from_json(body)
    body = wire(batch())
    body["rows"][0][6].append(1)  # type: ignore[index]
    with pytest.raises(LogBatchError):
        LogBatch.from_json(body)


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"epoch": 1, "cursor": 0, "dropped": 0, "rows": []},
        {"epoch": "e" * 65, "cursor": 0, "dropped": 0, "rows": []},
        {"epoch": "e", "cursor": -1, "dropped": 0, "rows": []},
        {"epoch": "e", "cursor": 0, "dropped": False, "rows": []},
        {"epoch": "e", "cursor": 0, "dropped": 0, "rows": {}},
        {"epoch": "e", "cursor": 0, "dropped": 0, "rows": [[1, None]]},
        {"epoch": "e", "cursor": 0, "dropped": 0},
    ],
)
def test_an_answer_that_is_no_batch_is_refused(body: object) -> None:
    with pytest.raises(LogBatchError):
        LogBatch.from_json(body)


def test_admin_times_of_any_year_travel() -> None:
    buffer = LogBuffer()
    early = datetime(1, 1, 1, tzinfo=UTC)
    buffer.add("app-1", "haproxy", early, "info", "a clock set wrong")
    received = LogBatch.from_json(wire(buffer.read(0, 10)))
    assert received.rows[0][3] == to_micros(early) and received.records[0].time == early


def test_a_known_type_pattern_still_has_its_lengths_checked() -> None:
    body = wire(batch())
    rows = body["rows"]
    assert isinstance(rows, list)
    LogBatch.from_json(body)  # the pattern of FLOW is known now
    long_uri = [*rows[0][6]]
    long_uri[FLOW_COLUMNS.index("request_uri")] = "/" * 5000
    rows.append([9, "app-1", "flow", rows[0][3], "info", "", long_uri])
    with pytest.raises(LogBatchError):
        LogBatch.from_json(body)
    rows[-1][6] = [*rows[0][6][:2], "40000", *rows[0][6][3:]]  # a new pattern: checked whole
    with pytest.raises(LogBatchError):
        LogBatch.from_json(body)
