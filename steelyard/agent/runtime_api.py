"""HAProxy's runtime API over its stats socket (`stats socket ... level admin`).

One connection per command: HAProxy answers and closes in non-interactive mode, and a command
takes ≈0.1 ms, so there is nothing to gain from keeping connections and state around.
"""

import csv
import socket
from dataclasses import dataclass
from pathlib import Path

from steelyard.agent.contract import StatRow

DEFAULT_TIMEOUT_S = 5.0
_MAX_ANSWER = 64 * 1024 * 1024  # `show stat` of a large config; anything beyond is a fault


class RuntimeApiError(Exception):
    """The socket could not be reached, or HAProxy refused a command (the text it answered)."""


def unix_command(
    path: Path, command: str, *, timeout: float = DEFAULT_TIMEOUT_S, head: int | None = None
) -> str:
    """Send one command line to a HAProxy CLI socket and return the whole answer.

    The write side is shut after the command: the master CLI waits for end of input before it
    answers, the stats socket answers either way. Raises OSError when the socket is unreachable.
    With `head`, reading stops once that many bytes have arrived (`show sess` of a busy
    HAProxy); the answer is then cut anywhere, mid-line included.
    """
    if "\n" in command or "\r" in command or ";" in command:
        raise ValueError(f"one plain command expected, got {command!r}")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(command.encode() + b"\n")
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        size = 0
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            size += len(chunk)
            if head is not None and size >= head:
                break
            if size > _MAX_ANSWER:
                raise OSError(f"answer to {command!r} larger than {_MAX_ANSWER} bytes")
    return b"".join(chunks).decode(errors="replace")


@dataclass(frozen=True)
class RuntimeApi:
    """The runtime API of one HAProxy, by the path of its stats socket."""

    stats_socket: Path
    timeout: float = DEFAULT_TIMEOUT_S

    def command(self, command: str, *, head: int | None = None) -> str:
        try:
            return unix_command(self.stats_socket, command, timeout=self.timeout, head=head)
        except OSError as exc:
            raise RuntimeApiError(f"stats socket {self.stats_socket}: {exc}") from exc

    def execute(self, command: str) -> None:
        """Run a command that answers nothing on success (`set server ...`)."""
        answer = self.command(command).strip()
        if answer:
            raise RuntimeApiError(f"{command!r}: {answer}")

    def set_weight(self, backend: str, server: str, weight: int) -> None:
        self.execute(f"set server {_target(backend, server)} weight {int(weight)}")

    def set_state(self, backend: str, server: str, state: str) -> None:
        if state not in ("ready", "drain", "maint"):
            raise ValueError(f"state must be ready, drain or maint, got {state!r}")
        self.execute(f"set server {_target(backend, server)} state {state}")

    def show_servers_state(self) -> str:
        """The server-state file format (version 1), as HAProxy loads it back on a reload."""
        answer = self.command("show servers state")
        if not answer.startswith("1\n"):
            raise RuntimeApiError(f"unexpected 'show servers state' answer: {answer[:200]!r}")
        return answer

    def show_stat(self) -> list[StatRow]:
        return parse_show_stat(self.command("show stat"))


def stat_records(text: str) -> list[dict[str, str]]:
    """`show stat` CSV ("# pxname,svname,...") into one dict per row, by the header's names."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        raise RuntimeApiError(f"unexpected 'show stat' answer: {text[:200]!r}")
    header = lines[0][2:].split(",")
    return list(csv.DictReader((line for line in lines[1:] if line), fieldnames=header))


def parse_show_stat(text: str) -> list[StatRow]:
    """`show stat` into rows; unknown or empty fields use defaults."""
    rows = []
    for record in stat_records(text):
        rows.append(
            StatRow(
                pxname=record["pxname"],
                svname=record["svname"],
                status=record.get("status") or "",
                weight=_int_or_none(record.get("weight")),
                scur=_int(record.get("scur")),
                stot=_int(record.get("stot")),
                bin=_int(record.get("bin")),
                bout=_int(record.get("bout")),
                ereq=_int(record.get("ereq")),
                econ=_int(record.get("econ")),
                eresp=_int(record.get("eresp")),
                check_status=record.get("check_status") or None,
                hrsp_2xx=_int(record.get("hrsp_2xx")),
                hrsp_4xx=_int(record.get("hrsp_4xx")),
                hrsp_5xx=_int(record.get("hrsp_5xx")),
                hrsp_1xx=_int(record.get("hrsp_1xx")),
                hrsp_3xx=_int(record.get("hrsp_3xx")),
                hrsp_other=_int(record.get("hrsp_other")),
                req_tot=_int(record.get("req_tot")),
            )
        )
    return rows


def _target(backend: str, server: str) -> str:
    for part in (backend, server):
        if not part or any(c in part for c in " \t/;\r\n"):
            raise ValueError(f"invalid backend or server name {part!r}")
    return f"{backend}/{server}"


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.lstrip("-").isdigit() else None


def _int(value: str | None) -> int:
    return _int_or_none(value) or 0
