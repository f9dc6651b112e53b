"""Remote syslog targets: parsing, UDP and TCP delivery on loopback, a target that is down
(bounded queue, oldest dropped and counted, sent once it is up, the caller never blocked)."""

import socket
import threading

import pytest

from steelyard.telemetry.syslog_sender import SyslogSender, Target, parse_target


def test_targets_parse() -> None:
    assert parse_target("udp://127.0.0.1:514") == Target("udp", "127.0.0.1", 514)
    assert parse_target("tcp://[::1]:6514") == Target("tcp", "::1", 6514)
    assert str(parse_target("tcp://[::1]:6514")) == "tcp://[::1]:6514"
    assert parse_target("tcp://logs.example:601").host == "logs.example"


@pytest.mark.parametrize(
    "text",
    ["", "udp://", "http://h:1", "udp://h", "udp://h:0", "udp://h:99999", "tcp://h:1/x",
     "tcp://u:p@h:1", "udp://h:1?x", "udp://h:port", "udp://h:1\n"[:-1] + "#f"],
)  # fmt: skip
def test_bad_targets_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_target(text)


def test_udp_delivery(udp_receiver: socket.socket) -> None:
    sender = SyslogSender(Target("udp", "127.0.0.1", udp_receiver.getsockname()[1]))
    sender.start()
    try:
        sender.send(b"<134>1 one")
        sender.send(b"<134>1 two")
        assert [udp_receiver.recv(100), udp_receiver.recv(100)] == [b"<134>1 one", b"<134>1 two"]
    finally:
        sender.stop()


def read_frames(connection: socket.socket, count: int) -> list[bytes]:
    """Octet-counted frames (RFC 6587)."""
    data, frames = b"", list[bytes]()
    while len(frames) < count:
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
        while b" " in data:
            length, _, rest = data.partition(b" ")
            if len(rest) < int(length):
                break
            frames.append(rest[: int(length)])
            data = rest[int(length) :]
    return frames


def test_tcp_target_down_then_up_queue_bounded_caller_never_blocked() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = SyslogSender(Target("tcp", "127.0.0.1", port), capacity=3)
    sender.start()
    try:
        for i in range(5):  # each returns at once although nothing listens yet
            sender.send(f"m{i} with\nnewline".encode())
        with socket.socket() as server:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", port))
            server.listen()
            server.settimeout(10)
            connection, _ = server.accept()
            with connection:
                connection.settimeout(10)
                frames = read_frames(connection, 3)
        # m0 may have been taken by the first (failed) attempt and stays at the head
        assert sender.dropped >= 1 and len(frames) == 3
        assert frames[-1] == b"m4 with\nnewline"
    finally:
        sender.stop()


def test_stop_while_the_target_is_down_returns() -> None:
    sender = SyslogSender(Target("tcp", "127.0.0.1", 9))  # discard port: nothing listens
    sender.start()
    sender.send(b"x")
    stopper = threading.Thread(target=sender.stop)
    stopper.start()
    stopper.join(timeout=15)
    assert not stopper.is_alive()
