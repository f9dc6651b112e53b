"""RuntimeApi against an in-process UNIX socket that answers like HAProxy's stats socket."""

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from steelyard.agent.runtime_api import (
    RuntimeApi,
    RuntimeApiError,
    parse_show_stat,
    unix_command,
)

SHOW_STAT = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
    "wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,"
    "lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,"
    "hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other\n"
    "fe,FRONTEND,,,1,2,1000,10,100,200,0,0,3,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,1,,,,0,9,0,1,0,0\n"
    "be,s1,0,0,0,1,,6,60,120,,0,,0,1,0,0,UP,3,1,0,0,0,5,0,,1,3,1,,6,,2,0,,1,L4OK,,0,0,6,0,0,0,0\n"
    "be,s2,0,0,0,0,,0,0,0,,0,,2,0,0,0,MAINT,1,1,0,0,0,5,0,,1,3,2,,0,,2,0,,0,,,,0,0,0,0,0,0\n"
)


class FakeStatsSocket:
    """Answers canned text per command and records what it was sent."""

    def __init__(self, path: Path, answers: dict[str, str]) -> None:
        self.path = path
        self.answers = answers
        self.received: list[str] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(path))
        self._sock.listen()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while not data.endswith(b"\n"):
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                command = data.decode().strip()
                self.received.append(command)
                conn.sendall(self.answers.get(command, "Unknown command.\n\n").encode())

    def close(self) -> None:
        self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join()


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeStatsSocket]:
    server = FakeStatsSocket(
        tmp_path / "stats.sock",
        {
            "show stat": SHOW_STAT,
            "set server be/s1 weight 3": "\n",
            "set server be/s2 state maint": "\n",
            "show servers state": "1\n# be_id be_name\n",
        },
    )
    yield server
    server.close()


def test_parse_show_stat() -> None:
    rows = {(row.pxname, row.svname): row for row in parse_show_stat(SHOW_STAT)}
    front = rows[("fe", "FRONTEND")]
    assert (front.status, front.weight, front.scur, front.stot, front.ereq) == (
        "OPEN",
        None,
        1,
        10,
        3,
    )
    assert front.hrsp_2xx == 9
    assert (front.hrsp_1xx, front.hrsp_3xx, front.hrsp_4xx, front.hrsp_other) == (0, 0, 1, 0)
    s1 = rows[("be", "s1")]
    assert (s1.status, s1.weight, s1.check_status, s1.eresp) == ("UP", 3, "L4OK", 1)
    s2 = rows[("be", "s2")]
    assert (s2.status, s2.check_status, s2.econ) == ("MAINT", None, 2)


def test_parse_show_stat_rejects_other_answers() -> None:
    with pytest.raises(RuntimeApiError):
        parse_show_stat("Permission denied\n")


def test_commands_over_the_socket(fake: FakeStatsSocket) -> None:
    api = RuntimeApi(fake.path)
    api.set_weight("be", "s1", 3)
    api.set_state("be", "s2", "maint")
    assert [row.svname for row in api.show_stat()] == ["FRONTEND", "s1", "s2"]
    assert api.show_servers_state().startswith("1\n")
    assert fake.received[:2] == ["set server be/s1 weight 3", "set server be/s2 state maint"]


def test_refused_command_raises_with_haproxys_answer(fake: FakeStatsSocket) -> None:
    with pytest.raises(RuntimeApiError, match="Unknown command"):
        RuntimeApi(fake.path).execute("set server be/s9 weight 1")


def test_missing_socket_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeApiError, match="stats socket"):
        RuntimeApi(tmp_path / "none.sock").show_stat()


@pytest.mark.parametrize("command", ["show stat\nshutdown frontend fe", "a;b", "x\r"])
def test_one_command_per_connection(tmp_path: Path, command: str) -> None:
    with pytest.raises(ValueError):
        unix_command(tmp_path / "none.sock", command)


@pytest.mark.parametrize(("backend", "server"), [("be", "s 1"), ("b/e", "s1"), ("", "s1")])
def test_names_cannot_smuggle_arguments(backend: str, server: str) -> None:
    with pytest.raises(ValueError):
        RuntimeApi(Path("/nonexistent")).set_weight(backend, server, 1)


def test_state_must_be_known() -> None:
    with pytest.raises(ValueError):
        RuntimeApi(Path("/nonexistent")).set_state("be", "s1", "up")
