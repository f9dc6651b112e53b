"""Heartbeats: what an appliance's agent sends the health manager every second, one UDP
datagram per appliance and health manager address. Pure: bytes in, bytes out.

Wire format, version 2 (integers little-endian):

    header   version u8 (2); key id u8 (the first byte of SHA-256(key): during a rotation the
             receiver holds the old and the new key and tries those whose id matches);
             HMAC-SHA256(key, version + key id + payload), 32 bytes
    payload  seq u64, sent_at f64 (Unix seconds), generation i64 (-1: none),
             flags u8 (1 HAProxy running, 2 truncated, 4 config SHA-256 present),
             VRRP state u8 (0 none, 1 MASTER, 2 BACKUP, 3 FAULT, 4 STOP),
             proxies u16, rows u16, name length u8, config SHA-256 (32 raw bytes, if present),
             appliance name (ASCII),
             rows x 16 i64: proxy index, weight + 1 (0: none), then the counters of COUNTED:
             scur, stot, bin, bout, ereq, econ, eresp, hrsp_2xx, hrsp_4xx, hrsp_5xx, hrsp_1xx,
             hrsp_3xx, hrsp_other, req_tot,
             texts (UTF-8, joined by newlines): the proxy names, then per row its server name,
             status and check status ("" for none)

Version 2 added hrsp_1xx, hrsp_3xx, hrsp_other and req_tot (metering needs every status
class). The agent and the health manager are one codebase, upgraded together, so a version 1
datagram is refused like any unknown version (reason "malformed") rather than read twice.

Binary and column-wise because the health manager verifies and checks every datagram on one
core: the rows are checked in a few bulk operations (sign bits, text counts and lengths,
proxy indexes) and kept as received; they become objects (`StatTable.rows`) only where
statuses are computed. (JSON cost 40 µs per 20-member heartbeat, per-field checks 150.)

A datagram is at most MAX_DATAGRAM bytes (under the 65,507-byte UDP payload limit). A heartbeat
that would be larger is truncated, never refused (liveness matters more than detail): the
server rows are dropped and the FRONTEND and BACKEND rows kept, or, if even those do not fit,
every row; `truncated` is then set and the receiver leaves member statuses (and member
counters) as they are. That happens above about 340 members on one appliance.

Decoding checks the size, then the signature, then every field: hostile bytes raise
`HeartbeatRejected` and nothing else, with a `reason` the health manager counts by.
"""

import hashlib
import hmac
import re
import struct
import sys
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

VERSION = 2
MAX_DATAGRAM = 60_000
HEADER = 2 + 32
KEY_BYTES = 32
VRRP_STATES = ("MASTER", "BACKUP", "FAULT", "STOP")
# Same rule as the agent's NAME_PATTERN (steelyard.agent.contract; a test pins both).
APPLIANCE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
MAX_TEXT = 128  # proxy and server names are ids (36 characters), statuses short words
_FIXED = struct.Struct("<QdqBBHHB")
# The counters of a row, in wire order after the proxy index and the weight.
COUNTED = (
    "scur",
    "stot",
    "bin",
    "bout",
    "ereq",
    "econ",
    "eresp",
    "hrsp_2xx",
    "hrsp_4xx",
    "hrsp_5xx",
    "hrsp_1xx",
    "hrsp_3xx",
    "hrsp_other",
    "req_tot",
)
_COLUMNS = 2 + len(COUNTED)
_ROW_BYTES = _COLUMNS * 8
_RUNNING, _TRUNCATED, _HAS_SHA = 1, 2, 4
_SUMMARY_SVNAMES = ("FRONTEND", "BACKEND")
_MAX_SEQ = 2**63 - 1  # the database keeps it in a signed 64-bit column
_MAX_SENT_AT = 1e11  # year 5138: anything above is garbage
_NON_NEGATIVE_HIGH_BYTES = bytes(range(128))

Reason = Literal["oversized", "malformed", "forged"]


class HeartbeatRejected(Exception):
    """The only exception decoding raises. `reason`: oversized, malformed or forged."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: Reason = reason


@dataclass(frozen=True, slots=True)
class ProxyRow:
    """One row of HAProxy's `show stat` (the fields of agent.contract.StatRow, same names)."""

    pxname: str
    svname: str
    status: str
    weight: int | None = None
    scur: int = 0
    stot: int = 0
    bin: int = 0
    bout: int = 0
    ereq: int = 0
    econ: int = 0
    eresp: int = 0
    check_status: str | None = None
    hrsp_2xx: int = 0
    hrsp_4xx: int = 0
    hrsp_5xx: int = 0
    hrsp_1xx: int = 0
    hrsp_3xx: int = 0
    hrsp_other: int = 0
    req_tot: int = 0


@dataclass(frozen=True, slots=True)
class StatTable:
    """Rows column-wise, kept as on the wire (decoding checks them, and only the status writer
    needs them as objects): `wire_numbers` holds 16 little-endian int64 per row (see the
    module's docstring), `wire_texts` three texts per row (server name, status, check status)
    joined by newlines."""

    proxies: tuple[str, ...] = ()
    wire_numbers: bytes = b""
    wire_texts: str = ""

    @classmethod
    def from_rows(cls, rows: Iterable[ProxyRow]) -> "StatTable":
        index: dict[str, int] = {}
        numbers = array("q")
        texts: list[str] = []
        for row in rows:
            proxy = index.setdefault(_clean(row.pxname), len(index))
            numbers.extend((proxy, 0 if row.weight is None else row.weight + 1))
            numbers.extend(getattr(row, name) for name in COUNTED)
            texts += (_clean(row.svname), _clean(row.status), _clean(row.check_status or ""))
        if sys.byteorder == "big":
            numbers.byteswap()
        return cls(tuple(index), numbers.tobytes(), "\n".join(texts))

    def __len__(self) -> int:
        return len(self.wire_numbers) // _ROW_BYTES

    @property
    def numbers(self) -> "array[int]":
        numbers = array("q")
        numbers.frombytes(self.wire_numbers)
        if sys.byteorder == "big":
            numbers.byteswap()
        return numbers

    @property
    def texts(self) -> list[str]:
        return self.wire_texts.split("\n") if self.wire_numbers else []

    def shape(self) -> tuple[tuple[str, ...], str, bytes]:
        """What statuses depend on (names, statuses, check statuses, weights), not counters."""
        return self.proxies, self.wire_texts, self.numbers[1::_COLUMNS].tobytes()

    def rows(self) -> list[ProxyRow]:
        return self._rows(range(len(self)))

    def frontends(self) -> dict[str, ProxyRow]:
        """The FRONTEND rows by proxy name (a listener's counters), without building the rest."""
        texts = self.texts
        wanted = [i for i in range(len(self)) if texts[i * 3] == "FRONTEND"]
        return {row.pxname: row for row in self._rows(wanted, texts)}

    def _rows(self, indexes: Iterable[int], texts: list[str] | None = None) -> list[ProxyRow]:
        numbers, texts = self.numbers, self.texts if texts is None else texts
        out = []
        for i in indexes:
            n = numbers[i * _COLUMNS : (i + 1) * _COLUMNS]
            svname, status, check = texts[i * 3 : i * 3 + 3]
            out.append(
                ProxyRow(
                    self.proxies[n[0]],
                    svname,
                    status,
                    None if n[1] == 0 else n[1] - 1,
                    check_status=check or None,
                    **dict(zip(COUNTED, n[2:], strict=True)),
                )
            )
        return out

    def summary(self) -> "StatTable":
        """Only the FRONTEND and BACKEND rows (what a truncated heartbeat keeps)."""
        return StatTable.from_rows(row for row in self.rows() if row.svname in _SUMMARY_SVNAMES)


def _clean(text: str) -> str:
    """Newlines separate texts on the wire; HAProxy's names and statuses hold none."""
    return text.replace("\n", " ")[:MAX_TEXT]


@dataclass(frozen=True, slots=True)
class Heartbeat:
    appliance: str
    seq: int  # strictly increasing per appliance, also across agent restarts
    sent_at: float  # the agent's clock, Unix seconds (the receiver trusts its own clock)
    generation: int | None  # config generation in force, None before the first apply
    config_sha256: str | None
    haproxy_running: bool
    vrrp_state: str | None  # MASTER, BACKUP, FAULT or STOP; None without keepalived
    stats: StatTable = field(default_factory=StatTable)
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class HeartbeatKey:
    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise ValueError(f"a heartbeat key has {KEY_BYTES} bytes, not {len(self.secret)}")

    @property
    def key_id(self) -> int:
        return hashlib.sha256(self.secret).digest()[0]


def parse_key(data: bytes) -> HeartbeatKey:
    """A key file's content: 32 raw bytes, or 64 hexadecimal digits (whitespace around)."""
    text = data.strip()
    if len(text) == 2 * KEY_BYTES:
        try:
            return HeartbeatKey(bytes.fromhex(text.decode("ascii")))
        except (UnicodeDecodeError, ValueError):
            pass
    if len(data) == KEY_BYTES:
        return HeartbeatKey(data)
    raise ValueError(f"a heartbeat key file holds {KEY_BYTES} bytes or {2 * KEY_BYTES} hex digits")


class Keyring:
    """The keys a receiver accepts (the current one first, then those being rotated out)."""

    def __init__(self, keys: list[HeartbeatKey]) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        self.keys = list(keys)
        self._by_id: dict[int, list[HeartbeatKey]] = {}
        for key in self.keys:
            self._by_id.setdefault(key.key_id, []).append(key)

    def candidates(self, key_id: int) -> list[HeartbeatKey]:
        return self._by_id.get(key_id, [])


def encode(heartbeat: Heartbeat, key: HeartbeatKey) -> bytes:
    """The signed datagram, truncated (see the module's docstring) to fit MAX_DATAGRAM."""
    header = bytes((VERSION, key.key_id))
    payload = _payload(heartbeat, heartbeat.stats, heartbeat.truncated)
    if len(payload) + HEADER > MAX_DATAGRAM:
        payload = _payload(heartbeat, heartbeat.stats.summary(), True)
        if len(payload) + HEADER > MAX_DATAGRAM:
            payload = _payload(heartbeat, StatTable(), True)
    mac = hmac.new(key.secret, header + payload, hashlib.sha256).digest()
    return header + mac + payload


def decode(data: bytes, keys: Keyring) -> Heartbeat:
    """Verify and parse one datagram; HeartbeatRejected for anything but a valid heartbeat."""
    if len(data) > MAX_DATAGRAM:
        raise HeartbeatRejected("oversized", f"{len(data)} bytes")
    if len(data) <= HEADER:
        raise HeartbeatRejected("malformed", f"{len(data)} bytes is shorter than a heartbeat")
    if data[0] != VERSION:
        raise HeartbeatRejected("malformed", f"unknown version {data[0]}")
    payload = memoryview(data)[HEADER:]
    for key in keys.candidates(data[1]):
        mac = hmac.new(key.secret, data[:2], hashlib.sha256)
        mac.update(payload)
        if hmac.compare_digest(mac.digest(), data[2:HEADER]):
            return parse_payload(payload)
    raise HeartbeatRejected("forged", "the signature matches no key")


def _payload(heartbeat: Heartbeat, stats: StatTable, truncated: bool) -> bytes:
    name = heartbeat.appliance.encode("ascii")
    sha = bytes.fromhex(heartbeat.config_sha256) if heartbeat.config_sha256 else b""
    flags = (
        (_RUNNING if heartbeat.haproxy_running else 0)
        | (_TRUNCATED if truncated else 0)
        | (_HAS_SHA if sha else 0)
    )
    vrrp = VRRP_STATES.index(heartbeat.vrrp_state) + 1 if heartbeat.vrrp_state else 0
    texts = [*stats.proxies, stats.wire_texts] if len(stats) else list(stats.proxies)
    return b"".join(
        (
            _FIXED.pack(
                heartbeat.seq,
                heartbeat.sent_at,
                -1 if heartbeat.generation is None else heartbeat.generation,
                flags,
                vrrp,
                len(stats.proxies),
                len(stats),
                len(name),
            ),
            sha,
            name,
            stats.wire_numbers,
            "\n".join(texts).encode(),
        )
    )


def parse_payload(payload: bytes | memoryview) -> Heartbeat:
    """The heartbeat a verified payload describes; HeartbeatRejected("malformed") otherwise."""
    try:
        return _parse(payload)
    except (ValueError, struct.error, IndexError) as exc:  # UnicodeDecodeError is a ValueError
        raise HeartbeatRejected("malformed", str(exc)[:200]) from None


def _parse(payload: bytes | memoryview) -> Heartbeat:
    seq, sent_at, generation, flags, vrrp, n_proxies, n_rows, name_len = _FIXED.unpack_from(payload)
    if flags > 7 or vrrp > len(VRRP_STATES) or generation < -1 or seq > _MAX_SEQ:
        raise ValueError("bad flags, VRRP state, generation or sequence number")
    if not 0 <= sent_at < _MAX_SENT_AT:  # also false for NaN
        raise ValueError("bad sent_at")
    at = _FIXED.size
    sha: str | None = None
    if flags & _HAS_SHA:
        sha = bytes(payload[at : at + 32]).hex()
        at += 32
    name = bytes(payload[at : at + name_len]).decode("ascii")
    at += name_len
    if len(name) != name_len or APPLIANCE_NAME.fullmatch(name) is None:
        raise ValueError("bad appliance name")
    raw = bytes(payload[at : at + n_rows * _ROW_BYTES])
    if len(raw) != n_rows * _ROW_BYTES or len(sha or "x" * 64) != 64:
        raise ValueError("truncated payload")
    # The sign bit is in the last byte of each little-endian number: none may be set.
    if raw[7::8].translate(None, _NON_NEGATIVE_HIGH_BYTES):
        raise ValueError("negative number")
    at += n_rows * _ROW_BYTES
    rest = bytes(payload[at:]).decode("utf-8")
    parts = rest.split("\n") if rest or n_rows else []
    if len(parts) != n_proxies + 3 * n_rows or max(map(len, parts), default=0) > MAX_TEXT:
        raise ValueError("bad texts")
    proxies = parts[:n_proxies]
    texts = rest[sum(map(len, proxies)) + n_proxies :] if n_rows else ""
    if n_rows:
        indexes = array("q")
        indexes.frombytes(raw)
        if sys.byteorder == "big":
            indexes.byteswap()
        if max(indexes[0::_COLUMNS]) >= n_proxies:
            raise ValueError("bad proxy index")
    return Heartbeat(
        appliance=name,
        seq=seq,
        sent_at=sent_at,
        generation=None if generation < 0 else generation,
        config_sha256=sha,
        haproxy_running=bool(flags & _RUNNING),
        vrrp_state=VRRP_STATES[vrrp - 1] if vrrp else None,
        stats=StatTable(tuple(proxies), raw, texts),
        truncated=bool(flags & _TRUNCATED),
    )


@dataclass(frozen=True, slots=True)
class ApplianceReport:
    """An accepted heartbeat of an appliance that serves a load balancer: what the health
    manager hands to the status writer (controller.observer) with each flush."""

    loadbalancer_id: str
    heartbeat: Heartbeat
