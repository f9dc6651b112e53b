"""The gratuitous ARP frame a replacement appliance sends for the addresses it took."""

import pytest

from steelyard.network.garp import garp_frame

MAC = bytes.fromhex("0a1b2c3d4e5f")


def test_an_announcement_is_a_broadcast_request_from_and_for_the_address() -> None:
    frame = garp_frame(MAC, "198.18.0.7")
    assert frame[:6] == b"\xff" * 6 and frame[6:12] == MAC and frame[12:14] == b"\x08\x06"
    arp = frame[14:]
    assert arp[:8] == bytes.fromhex("0001080006040001")  # Ethernet, IPv4, 6, 4, request
    assert arp[8:14] == MAC
    sender, target = arp[14:18], arp[24:28]
    assert sender == target == bytes([198, 18, 0, 7])
    assert arp[18:24] == b"\x00" * 6
    assert len(frame) == 42


@pytest.mark.parametrize("bad", ["fd00::1", "198.18.0", "x"])
def test_only_ipv4_addresses_make_frames(bad: str) -> None:
    with pytest.raises(ValueError):
        garp_frame(MAC, bad)
