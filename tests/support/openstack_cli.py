"""The `openstack` command for the client tests, imported once.

Each `openstack` run spends about 1.5 s importing the client and its plugins before it sends
a request (more on a busy host), and the CLI tests run some eighty commands. Here one server
process imports the client and loads its plugins once, then answers each command with a
forked child that runs the client's own entry point (`openstackclient.shell.main`, what the
`openstack` script calls) with the command's argv, its own stdout and stderr, and stdin from
/dev/null; the child's exit status is the command's. What differs from typing `openstack`:
the imports happened before the fork. tests/e2e/test_openstack_clients.py checks the
installed script against it once.

Protocol (private to this file): one JSON list of arguments per line in, one JSON object
(`returncode`, `stdout`, `stderr`) per line out.
"""

import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import IO, NoReturn

# Loads every plugin's commands in the server, before any fork (its output is discarded).
WARM_UP = ("--os-auth-type", "none", "--os-endpoint", "http://127.0.0.1:9", "loadbalancer")


class OpenstackCli:
    """A client of the server process; `run` is `subprocess.run(["openstack", *argv])`."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self._process = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,
        )

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps(argv) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"the openstack command server exited ({self._process.wait()})")
        answer = json.loads(line)
        return subprocess.CompletedProcess(
            ["openstack", *argv], answer["returncode"], answer["stdout"], answer["stderr"]
        )

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


def _child(
    argv: list[str], main: Callable[[list[str]], int], out: IO[bytes], err: IO[bytes]
) -> NoReturn:
    """In the forked child: run one command as the `openstack` script would, then exit."""
    code = 1
    try:
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.argv = ["openstack", *argv]
        code = main(argv) or 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _answer(argv: list[str], main: Callable[[list[str]], int]) -> dict[str, object]:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:
            _child(argv, main, out, err)
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        err.seek(0)
        return {
            "returncode": os.waitstatus_to_exitcode(status),
            "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace"),
        }


def serve() -> None:
    # The protocol keeps the original stdin and stdout; what the client prints goes elsewhere.
    requests = os.fdopen(os.dup(0), "r")
    replies = os.fdopen(os.dup(1), "w")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)

    from openstackclient.shell import main

    with contextlib.suppress(SystemExit):
        main([*WARM_UP, "list", "--help"])
    for handler in logging.getLogger().handlers[:]:  # each command configures its own
        logging.getLogger().removeHandler(handler)
    for line in requests:
        sys.stdout.flush()
        sys.stderr.flush()
        replies.write(json.dumps(_answer(json.loads(line), main)) + "\n")
        replies.flush()


if __name__ == "__main__":
    serve()
