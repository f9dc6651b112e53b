"""The heartbeat wire format: round trip, signatures, truncation, hostile bytes."""

import hashlib
import hmac
import random
import struct
from typing import Any

import pytest

from steelyard.agent.contract import NAME_PATTERN, StatRow
from steelyard.model.heartbeat import (
    APPLIANCE_NAME,
    HEADER,
    MAX_DATAGRAM,
    VERSION,
    Heartbeat,
    HeartbeatKey,
    HeartbeatRejected,
    Keyring,
    ProxyRow,
    StatTable,
    decode,
    encode,
    parse_key,
    parse_payload,
)

KEY = HeartbeatKey(bytes(range(32)))
OTHER = HeartbeatKey(bytes(range(1, 33)))
RING = Keyring([KEY])
POOL = "9b1d7a52-6f1e-4a8e-9a43-3c1f5f8f2c11"
LISTENER = "0f9c2f0e-1b7a-4d55-8c3e-6e9d3d8a4b21"


def member(index: int, status: str = "UP") -> ProxyRow:
    return ProxyRow(
        pxname=POOL,
        svname=f"7c2e1a52-6f1e-4a8e-9a43-{index:012d}",
        status=status,
        weight=1,
        scur=2,
        stot=300 + index,
        bin=2**40,
        bout=7,
        check_status="L7OK",
        hrsp_2xx=290,
        hrsp_5xx=1,
        hrsp_1xx=3,
        hrsp_3xx=4,
        hrsp_other=5,
        req_tot=303,
    )


def rows(members: int = 20) -> list[ProxyRow]:
    return [
        ProxyRow(LISTENER, "FRONTEND", "OPEN", None, 3, 1000, 12345, 67890, 4),
        *(member(i) for i in range(members)),
        ProxyRow(POOL, "BACKEND", "UP", 20, 3, 1000, 12345, 67890),
    ]


def heartbeat(members: int = 20, **changes: Any) -> Heartbeat:
    fields: dict[str, object] = {
        "appliance": "3f2a9c1e0b7d-0",
        "seq": 1_764_000_000_000_001,
        "sent_at": 1_764_000_000.25,
        "generation": 12,
        "config_sha256": "ab" * 32,
        "haproxy_running": True,
        "vrrp_state": "MASTER",
        "stats": StatTable.from_rows(rows(members)),
    }
    fields.update(changes)
    return Heartbeat(**fields)  # type: ignore[arg-type]


def reason(data: bytes, ring: Keyring = RING) -> str:
    with pytest.raises(HeartbeatRejected) as caught:
        decode(data, ring)
    return caught.value.reason


def test_round_trip_with_twenty_members() -> None:
    sent = heartbeat()
    data = encode(sent, KEY)
    assert len(data) < 4000
    received = decode(data, RING)
    assert received == sent
    assert received.stats.rows() == rows(20)


@pytest.mark.parametrize(
    "changes",
    [
        {"generation": None, "config_sha256": None, "haproxy_running": False, "stats": StatTable()},
        {"vrrp_state": None},
        {"vrrp_state": "FAULT", "generation": 0},
        {"stats": StatTable.from_rows([ProxyRow(POOL, "s1", "DOWN", 0, check_status=None)])},
    ],
)
def test_round_trip_of_sparse_heartbeats(changes: dict[str, Any]) -> None:
    sent = heartbeat(**changes)
    assert decode(encode(sent, KEY), RING) == sent


def test_rows_carry_the_fields_of_the_agents_stat_rows() -> None:
    assert list(ProxyRow.__dataclass_fields__) == list(StatRow.model_fields)
    stat = StatRow(pxname="p", svname="s", status="UP", weight=3, stot=9, check_status="L4OK")
    row = ProxyRow(**stat.model_dump())
    assert StatTable.from_rows([row]).rows() == [row]


def test_appliance_name_rule_is_the_agents() -> None:
    assert f"^{APPLIANCE_NAME.pattern}$" == NAME_PATTERN


def test_a_tampered_byte_anywhere_is_a_forgery() -> None:
    data = encode(heartbeat(), KEY)
    for index in [*range(1, HEADER + 8), len(data) // 2, len(data) - 1]:
        damaged = bytearray(data)
        damaged[index] ^= 0x01
        assert reason(bytes(damaged)) == "forged", index


def test_the_wrong_key_is_a_forgery_and_rotation_accepts_both_keys() -> None:
    data = encode(heartbeat(), OTHER)
    assert reason(data) == "forged"
    assert decode(data, Keyring([KEY, OTHER])) == heartbeat()
    assert decode(encode(heartbeat(), KEY), Keyring([OTHER, KEY])) == heartbeat()


def test_keys_with_the_same_id_are_all_tried() -> None:
    found: list[HeartbeatKey] = []
    rng = random.Random(7)
    while len(found) < 2:
        key = HeartbeatKey(rng.randbytes(32))
        if key.key_id == KEY.key_id:
            found.append(key)
    ring = Keyring([*found, KEY])
    assert decode(encode(heartbeat(), KEY), ring) == heartbeat()


def test_every_status_class_and_the_request_count_travel() -> None:
    (row,) = decode(encode(heartbeat(members=1), KEY), RING).stats.rows()[1:2]
    classes = (row.hrsp_1xx, row.hrsp_2xx, row.hrsp_3xx, row.hrsp_4xx, row.hrsp_5xx)
    assert classes == (3, 290, 4, 0, 1)
    assert (row.hrsp_other, row.req_tot) == (5, 303)


def test_a_version_1_datagram_is_malformed_even_when_signed() -> None:
    current = encode(heartbeat(), KEY)
    header = bytes((1, KEY.key_id))
    old = header + hmac.new(KEY.secret, header + current[HEADER:], hashlib.sha256).digest()
    assert reason(old + current[HEADER:]) == "malformed"


def test_oversized_datagrams_are_refused_before_any_work() -> None:
    assert reason(b"\x01" * (MAX_DATAGRAM + 1)) == "oversized"


@pytest.mark.parametrize(
    "data",
    [b"", b"\x02", b"\x02" * HEADER, b"\x03" + b"\x00" * 100, b"GET / HTTP/1.1\r\n\r\n"],
)
def test_short_or_foreign_datagrams_are_malformed(data: bytes) -> None:
    assert reason(data) == "malformed"


def test_random_garbage_never_raises_anything_else() -> None:
    rng = random.Random(3)
    for _ in range(2000):
        data = rng.randbytes(rng.randrange(0, 300))
        assert reason(data) in ("malformed", "forged")


def signed(payload: bytes, key: HeartbeatKey = KEY) -> bytes:
    header = bytes((VERSION, key.key_id))
    return header + hmac.new(key.secret, header + payload, hashlib.sha256).digest() + payload


def test_signed_garbage_is_malformed_whatever_the_payload() -> None:
    """A key holder that sends nonsense: every cut and every random payload is refused."""
    good = encode(heartbeat(), KEY)[HEADER:]
    for cut in range(len(good) - 1):
        try:
            parse_payload(good[:cut])
        except HeartbeatRejected as exc:
            assert exc.reason == "malformed"
    rng = random.Random(5)
    for _ in range(2000):
        damaged = bytearray(good)
        for _ in range(rng.randrange(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            decode(signed(bytes(damaged)), RING)
        except HeartbeatRejected as exc:
            assert exc.reason == "malformed"


def fixed(**changes: int | float) -> bytes:
    values: dict[str, int | float] = {
        "seq": 5,
        "sent_at": 1.0,
        "generation": 1,
        "flags": 1,
        "vrrp": 0,
        "proxies": 0,
        "rows": 0,
        "name_len": 1,
    }
    values.update(changes)
    return struct.pack("<QdqBBHHB", *values.values()) + b"a"


@pytest.mark.parametrize(
    "payload",
    [
        fixed(seq=2**63),  # the database keeps sequence numbers in a signed 64-bit column
        fixed(sent_at=float("nan")),
        fixed(sent_at=-1.0),
        fixed(generation=-2),
        fixed(flags=8),
        fixed(vrrp=5),
        fixed(name_len=0)[:-1],
        fixed(rows=1),  # a row announced, none there
        fixed() + b"trailing",
        struct.pack("<QdqBBHHB", 5, 1.0, 1, 1, 0, 0, 0, 2) + b"A\n",
    ],
)
def test_signed_payloads_with_bad_fields_are_malformed(payload: bytes) -> None:
    assert reason(signed(payload)) == "malformed"


def one_row(*numbers: int, texts: bytes = b"p\ns\nUP\n") -> bytes:
    return fixed(proxies=1, rows=1) + struct.pack("<16q", *numbers) + texts


@pytest.mark.parametrize(
    "texts",
    [
        b"p\n" + b"s" * 129 + b"\nUP\n",  # longer than any name HAProxy has
        b"p" * 129 + b"\ns\nUP\n",
        b"p\ns\nUP",  # a text missing
        b"p\ns\nUP\n\n",  # one too many
        b"p\ns\n\xff\xfe\n",  # not UTF-8
    ],
)
def test_rows_with_bad_texts_are_malformed(texts: bytes) -> None:
    assert reason(signed(one_row(0, 2, *range(14), texts=texts))) == "malformed"


def test_a_name_shorter_than_announced_is_malformed() -> None:
    assert reason(signed(fixed(name_len=2))) == "malformed"


def test_rows_with_a_negative_number_or_a_bad_proxy_index_are_malformed() -> None:
    assert len(decode(signed(one_row(0, 2, *range(14))), RING).stats) == 1
    for column in range(16):
        numbers = [0, 2, *range(14)]
        numbers[column] = -1
        assert reason(signed(one_row(*numbers))) == "malformed", column
    assert reason(signed(one_row(1, 2, *range(14)))) == "malformed"  # one proxy: index 0 only


def test_a_minimal_signed_payload_is_accepted() -> None:
    got = decode(signed(fixed()), RING)
    assert (got.appliance, got.seq, got.generation, got.haproxy_running) == ("a", 5, 1, True)


def test_hostile_texts_in_rows_are_cleaned_on_the_way_out() -> None:
    row = ProxyRow(POOL, "a\nb", "UP\n" + "x" * 500)
    got = decode(encode(heartbeat(stats=StatTable.from_rows([row])), KEY), RING)
    (back,) = got.stats.rows()
    assert back.svname == "a b" and len(back.status) == 128 and "\n" not in back.status


def test_a_heartbeat_too_large_for_a_datagram_keeps_its_summary_rows() -> None:
    big = heartbeat(members=1000)
    data = encode(big, KEY)
    assert len(data) <= MAX_DATAGRAM
    got = decode(data, RING)
    assert got.truncated
    assert [row.svname for row in got.stats.rows()] == ["FRONTEND", "BACKEND"]
    assert (got.seq, got.generation) == (big.seq, big.generation)


def test_the_limit_is_about_three_hundred_and_forty_members() -> None:
    assert not decode(encode(heartbeat(members=330), KEY), RING).truncated
    assert decode(encode(heartbeat(members=350), KEY), RING).truncated


def test_without_room_even_for_summaries_every_row_is_dropped() -> None:
    frontends = [ProxyRow(f"{i:036d}", "FRONTEND", "OPEN") for i in range(1000)]
    got = decode(encode(heartbeat(stats=StatTable.from_rows(frontends)), KEY), RING)
    assert got.truncated and len(got.stats) == 0


@pytest.mark.parametrize("content", [bytes(range(32)), (bytes(range(32)).hex() + "\n").encode()])
def test_key_files_hold_raw_or_hex_keys(content: bytes) -> None:
    assert parse_key(content) == KEY


@pytest.mark.parametrize("content", [b"", b"short", b"zz" * 32, bytes(31), bytes(33)])
def test_bad_key_files_are_refused(content: bytes) -> None:
    with pytest.raises(ValueError, match="heartbeat key"):
        parse_key(content)
