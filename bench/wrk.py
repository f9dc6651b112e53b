"""Run the `wrk` HTTP load generator (Debian package `wrk`) and read its report."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is missing: `make bench-deps` (or apt-get install wrk) first")
    return path


def _to_ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not found:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def parse(output: str) -> dict[str, Any]:
    """Requests/s, totals, latency percentiles (ms) and errors from wrk's text report."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    total = re.search(r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m),", output, re.M)
    if not rps or not total:
        raise ValueError(f"unexpected wrk output:\n{output}")
    result: dict[str, Any] = {
        "requests_per_s": float(rps.group(1)),
        "requests": int(total.group(1)),
        "duration_s": _to_ms(total.group(2) + total.group(3)) / 1000,
        "latency_ms": {
            f"p{p}": _to_ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", output, re.M)
        },
    }
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = dict.fromkeys(("connect", "read", "write", "timeout"), 0)
    if socket_errors:
        errors = dict(zip(errors, map(int, socket_errors.groups()), strict=True))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors["non_2xx_3xx"] = int(non2xx.group(1)) if non2xx else 0
    result["errors"] = errors
    return result


def run(
    url: str,
    *,
    close: bool,
    duration_s: int,
    threads: int,
    connections: int,
    netns: str | None = None,
    script: Path | None = None,
) -> dict[str, Any]:
    """One wrk run against `url`; `close` adds `Connection: close` (a new connection each).

    `netns`: run wrk in that network namespace (`ip netns exec`, which execs: the CPU time
    still shows in this process's children). `script`: a Lua script (`-s`); its own output is
    kept whole under "output" for the caller to read.
    """
    argv = [require_wrk(), f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--latency"]
    if close:
        argv += ["-H", "Connection: close"]
    if script is not None:
        argv += ["-s", str(script)]
    prefix = ["ip", "netns", "exec", netns] if netns else []
    done = subprocess.run(
        [*prefix, *argv, url], capture_output=True, text=True, check=False, timeout=duration_s + 30
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    result = parse(done.stdout)
    result["argv"] = [*argv[1:], url]
    if netns:
        result["netns"] = netns
    if script is not None:
        result["output"] = done.stdout
    return result
