"""Thin, typed access to iproute2 and to /sys/class/net (the imperative shell's primitives).

Changes go through `ip -batch -` so that one process start applies several commands: starting
`ip` costs a few milliseconds, the commands themselves microseconds. Reads of the host's links
go to sysfs instead, which costs no process at all.
"""

import errno
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IP = shutil.which("ip") or "/sbin/ip"
SYS_CLASS_NET = Path("/sys/class/net")
_IFF_UP = 0x1
_GONE = {errno.ENOENT, errno.ENODEV, errno.EINVAL, errno.ENXIO}


class IpCommandError(RuntimeError):
    """`ip` failed; carries the command, its input and what it said."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str, stdin: str = "") -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr.strip()
        self.stdin = stdin
        shown = " ".join(self.argv) + (f" <<< {stdin.strip()!r}" if stdin else "")
        super().__init__(f"{shown} failed ({returncode}): {self.stderr}")


def _argv(netns: str | None, family: int | None, json_out: bool, force: bool) -> list[str]:
    argv = [IP]
    if netns is not None:
        argv += ["-n", netns]
    if family is not None:
        argv.append(f"-{family}")
    if json_out:
        argv.append("-j")
    if force:
        argv.append("-force")  # keep going after a failed line; the exit status still says so
    return argv


def ip(
    *args: str, netns: str | None = None, family: int | None = None, json_out: bool = False
) -> str:
    """Run one `ip` command; return its output or raise IpCommandError."""
    argv = _argv(netns, family, json_out, force=False) + list(args)
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise IpCommandError(argv, proc.returncode, proc.stderr)
    return proc.stdout


def ip_batch(
    commands: Sequence[str],
    *,
    netns: str | None = None,
    family: int | None = None,
    json_out: bool = False,
    force: bool = False,
) -> str:
    """Run several `ip` commands (one per line, without the leading "ip") in one process."""
    if not commands:
        return ""
    argv = [*_argv(netns, family, json_out, force), "-batch", "-"]
    stdin = "".join(f"{line}\n" for line in commands)
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise IpCommandError(argv, proc.returncode, proc.stderr, stdin)
    return proc.stdout


def json_documents(text: str) -> list[Any]:
    """Parse JSON documents printed back to back, as `ip -j -batch` prints one per command."""
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return docs
        doc, pos = decoder.raw_decode(text, pos)
        docs.append(doc)


def ip_json_batch(
    commands: Sequence[str], *, netns: str | None = None, family: int | None = None
) -> list[list[dict[str, Any]]]:
    """Run read-only commands in one batch; return one parsed JSON list per command."""
    out = ip_batch(commands, netns=netns, family=family, json_out=True)
    docs: list[list[dict[str, Any]]] = json_documents(out)
    if len(docs) != len(commands):
        raise IpCommandError(["ip", "-j", "-batch"], 0, f"expected {len(commands)} JSON lists")
    return docs


@dataclass(frozen=True)
class HostLink:
    """What sysfs says about one link of the host namespace."""

    name: str
    ifindex: int
    iflink: int  # for a veth: the peer's ifindex (in the peer's namespace)
    up: bool
    master: str | None
    alias: str
    is_bridge: bool


def _read(path: Path) -> str:
    return path.read_text().strip()


def host_link(name: str) -> HostLink | None:
    """Read a link of this process's network namespace from sysfs; None if there is none."""
    base = SYS_CLASS_NET / name
    try:
        master_path = base / "master"
        master = os.path.basename(os.readlink(master_path)) if master_path.is_symlink() else None
        return HostLink(
            name=name,
            ifindex=int(_read(base / "ifindex")),
            iflink=int(_read(base / "iflink")),
            up=bool(int(_read(base / "flags"), 16) & _IFF_UP),
            master=master,
            alias=_read(base / "ifalias"),
            is_bridge=(base / "bridge").is_dir(),
        )
    except OSError as exc:
        # Absent, or being removed while we read it: a link on its way out answers EINVAL or
        # ENODEV for its attributes until sysfs drops it.
        if exc.errno in _GONE:
            return None
        raise


def host_link_names() -> list[str]:
    return sorted(os.listdir(SYS_CLASS_NET))
