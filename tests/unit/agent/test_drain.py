"""The pure parts of the handover drain: HAProxy's answers read, the nftables text, the request."""

import pytest
from pydantic import ValidationError

from steelyard.agent.contract import DRAIN_TIMEOUT_S, VrrpReleaseRequest
from steelyard.agent.drain import (
    TABLE,
    DrainError,
    block_ruleset,
    count_in_flight,
    parse_curr_conns,
    unblock_ruleset,
)

# `show sess` of an old worker (HAProxy 2.6.12, through the master CLI): one request in flight
# and the CLI's own session.
SHOW_SESS = (
    "0x55e8c1b5e2c0: proto=tcpv4 src=198.18.112.9:41852 fe=fe be=be srv=b1 ts=00 epoch=0 age=0s "
    "calls=3 rate=0 cpu=0 lat=0 rq[f=848000h,i=0,an=00h,rx=,wx=,ax=] rp[f=80048000h,i=0,an=00h,"
    "rx=,wx=,ax=] scf=[8,200h,fd=31,ex=] scb=[8,11h,fd=32,ex=] exp=4s rc=0 c_exp=\n"
    "0x55e8c1b5f9a0: proto=sockpair src=unix:1 fe=GLOBAL be=<NONE> srv=<none> ts=00 epoch=0x1 "
    "age=0s calls=2 rate=2 cpu=0 lat=0 rq[f=848000h,i=0,an=00h,rx=,wx=,ax=] rp[f=80008000h,i=0,"
    "an=00h,rx=,wx=,ax=] scf=[8,240h,fd=25,ex=] scb=[8,1h,fd=-1,ex=] exp=10s rc=0 c_exp=\n"
)


def test_in_flight_leaves_out_the_cli_session() -> None:
    assert count_in_flight(SHOW_SESS) == 1
    assert count_in_flight(SHOW_SESS.split("\n", 1)[1]) == 0
    assert count_in_flight("") == 0


def test_curr_conns() -> None:
    assert parse_curr_conns("Name: HAProxy\nCurrConns: 7\nCumConns: 12\n") == 7
    with pytest.raises(DrainError):
        parse_curr_conns("Name: HAProxy\n")


def test_block_drops_new_connections_from_outside_only() -> None:
    text = block_ruleset()
    # Replaced whole each time (idempotent), loopback (HAProxy's local peer) untouched, and
    # only a SYN without ACK: replies to the appliance's own connections pass.
    assert text.startswith(f"table inet {TABLE}\ndelete table inet {TABLE}\n")
    assert 'iifname != "lo" tcp flags & (syn | ack) == syn drop' in text
    assert unblock_ruleset() == f"table inet {TABLE}\ndelete table inet {TABLE}\n"


@pytest.mark.parametrize("value", [-1, 61, "soon", None, [], "1e9", float("nan")])
def test_drain_timeout_refuses_hostile_values(value: object) -> None:
    with pytest.raises(ValidationError):
        VrrpReleaseRequest.model_validate({"drain_timeout_s": value})


def test_drain_timeout_default() -> None:
    assert VrrpReleaseRequest().drain_timeout_s == DRAIN_TIMEOUT_S
    assert VrrpReleaseRequest.model_validate({"drain_timeout_s": 0}).drain_timeout_s == 0
