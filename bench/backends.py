"""Named HTTP backends (steelyard.cli.backends.NamedBackend) in a child process of their own.

In a child so that the benchmark's client loop and the backends do not share one interpreter
lock: a backend's answer then never waits for the client's Python code, nor the other way round.

    python -m bench.backends HOST NAME...   prints {"NAME": port, ...} on one line, serves until
                                            its stdin closes
"""

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from steelyard.cli.backends import NamedBackend


@contextmanager
def named_backends(host: str, names: Sequence[str]) -> Iterator[dict[str, int]]:
    """Start one NamedBackend per name on `host` in a child process; yields name -> port."""
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.backends", host, *names],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise RuntimeError(f"backends did not start (exit {child.wait()})")
        ports: dict[str, int] = json.loads(line)
        yield ports
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _serve(host: str, names: Sequence[str]) -> None:
    backends = [NamedBackend(name, host).start() for name in names]
    print(json.dumps({b.name: b.port for b in backends}), flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or dies)
    for backend in backends:
        backend.stop()


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2:])
