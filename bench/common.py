"""What every benchmark shares: percentiles, machine facts, result files, a Steelyard server."""

import datetime
import json
import math
import os
import platform
import re
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from steelyard.agent.contract import ApplianceInfo
from tests.e2e.agent_access import agent_for, appliance_of
from tests.e2e.harness import ServerHandle, running_server

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parent.parent


def nearest_rank(samples: Sequence[float], percent: float) -> float:
    """The nearest-rank percentile: the smallest sample with at least `percent` % at or below."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(samples: Sequence[float], percents: Sequence[int] = (50, 90, 99)) -> dict[str, float]:
    """n, min, the nearest-rank percentiles, max and mean of `samples` (in their own unit)."""
    summary: dict[str, float] = {"n": len(samples), "min": min(samples)}
    for percent in percents:
        summary[f"p{percent}"] = nearest_rank(samples, percent)
    summary["max"] = max(samples)
    summary["mean"] = sum(samples) / len(samples)
    return summary


def ms(seconds: float) -> float:
    """Seconds to milliseconds, rounded to the microsecond."""
    return round(seconds * 1000, 3)


def _run(*argv: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable: {exc}"
    return (done.stdout + done.stderr).strip()


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    return found.group(1) if found else "unknown"


def machine_facts() -> dict[str, Any]:
    """What a reader needs to weigh the figures: when, on what, under which load."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "mem_total_kib": _meminfo_total(),
        "kernel": platform.release(),
        "haproxy": _run("haproxy", "-v").splitlines()[0] if shutil.which("haproxy") else None,
        "python": platform.python_version(),
        "loadavg_at_start": os.getloadavg(),
        "nofile_limit": [soft, hard],
        # BENCH_GIT_COMMIT: set when running from an exported copy of a commit (no .git).
        "git_commit": os.environ.get("BENCH_GIT_COMMIT")
        or _run("git", "-C", str(REPO), "rev-parse", "HEAD"),
        "git_modified_files": _run("git", "-C", str(REPO), "status", "--porcelain").count("\n")
        if (REPO / ".git").exists()
        else None,
    }


def _meminfo_total() -> int | None:
    try:
        found = re.search(r"^MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text(), re.M)
    except OSError:
        return None
    return int(found.group(1)) if found else None


def write_result(name: str, facts: dict[str, Any], payload: dict[str, Any]) -> Path:
    """Write bench/results/<name>.json (overwriting): machine facts, figures and raw samples."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    document = {"benchmark": name, "machine": facts, **payload}
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    print(f"\nwritten: {path.relative_to(REPO)}")
    return path


def server_log(handle: ServerHandle) -> list[str]:
    try:
        return handle.log_path.read_text(errors="replace").splitlines()
    except OSError:
        return []


# The server's own log level field (not a child's "[WARNING]" quoted in an INFO line).
_PROBLEM = re.compile(r"^\S+ \S+ (WARNING|ERROR|CRITICAL) |^Traceback")


def server_log_problems(lines: list[str], limit: int = 40) -> dict[str, Any]:
    """WARNING/ERROR lines of the server log (the benchmark's evidence of trouble)."""
    bad = [line for line in lines if _PROBLEM.search(line)]
    return {"count": len(bad), "lines": bad[:limit]}


_AGENT_LINE = re.compile(
    r"^(\S+ \S+) .*steelyard\.agent: ([0-9a-f]+)-\d+: "
    r"generation (\d+) (\w+) in ([\d.]+) ms \(([^)]*)\)"
)
_RECONCILE_LINE = re.compile(r"reconcile ([0-9a-f-]+) generation (\d+): (\w+) in ([\d.]+) ms")


def apply_timings(lines: list[str]) -> list[dict[str, Any]]:
    """Per (load balancer, generation), from the server log: how the agent applied it (started,
    runtime, reloaded), its own step times, and the whole reconcile's time, in ms."""
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for line in lines:
        if agent := _AGENT_LINE.search(line):
            key = (agent.group(2), int(agent.group(3)))
            steps = dict(step.rsplit(" ", 1) for step in agent.group(6).split(", "))
            found.setdefault(key, {}).update(
                at=agent.group(1),
                action=agent.group(4),
                agent_ms=float(agent.group(5)),
                agent_steps_ms={name: float(value) for name, value in steps.items()},
            )
        elif done := _RECONCILE_LINE.search(line):
            key = (done.group(1).replace("-", "")[:12], int(done.group(2)))
            found.setdefault(key, {}).update(
                outcome=done.group(3), reconcile_ms=float(done.group(4))
            )
    return [{"lb": lb, "generation": gen, **data} for (lb, gen), data in found.items()]


def timing_summary(timings: list[dict[str, Any]]) -> dict[str, Any]:
    """agent_ms and reconcile_ms summarised per agent action (or reconcile outcome)."""
    out: dict[str, Any] = {}

    def kind(timing: dict[str, Any]) -> str:
        return str(timing.get("action") or timing.get("outcome", "?"))

    for action in sorted({kind(t) for t in timings}):
        mine = [t for t in timings if kind(t) == action]
        entry: dict[str, Any] = {}
        for key in ("agent_ms", "reconcile_ms"):
            values = [t[key] for t in mine if key in t]
            if values:
                entry[key] = summarize(values)
        out[action] = entry
    return out


def log_report(lines: list[str]) -> dict[str, Any]:
    """What the server log says about the run: problems and apply timings (printed briefly)."""
    timings = apply_timings(lines)
    summary = timing_summary(timings)
    problems = server_log_problems(lines)
    for action, entry in summary.items():
        parts = [
            f"{key.removesuffix('_ms')} p50 {entry[key]['p50']:.1f} max {entry[key]['max']:.1f}"
            for key in ("agent_ms", "reconcile_ms")
            if key in entry
        ]
        print(f"server log: {action:9s} " + ", ".join(parts) + " (ms)")
    print(f"server log: {problems['count']} WARNING/ERROR lines")
    for line in problems["lines"][:5]:
        print(f"  {line}")
    return {"problems": problems, "apply_summary": summary, "apply_timings": timings}


@contextmanager
def steelyard_server(extra_args: Sequence[str] = ()) -> Iterator[ServerHandle]:
    """A real `steelyard serve` with the netns driver; everything it made is removed after.

    The server's log goes with it, unless BENCH_SERVER_LOG names a file to copy it to.
    """
    if os.geteuid() != 0:
        raise SystemExit("the benchmarks use the netns driver: run them as root")
    log_dir = Path(tempfile.mkdtemp(prefix="sybench-"))
    try:
        with running_server(log_dir, "netns", tuple(extra_args)) as handle:
            try:
                yield handle
            finally:
                if keep := os.environ.get("BENCH_SERVER_LOG"):
                    shutil.copyfile(handle.log_path, keep)
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)


def appliance_info(handle: ServerHandle, lb_id: str) -> ApplianceInfo:
    """What the server's agent knows of a load balancer's appliance: its namespace, the path of
    its stats socket (the runtime API), its HAProxy PIDs (through the server's own PKI)."""
    with agent_for(handle) as agent:
        info = agent.get_appliance(appliance_of(lb_id))
    if info is None:
        raise RuntimeError(f"no appliance for load balancer {lb_id}")
    return info


def print_rows(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain aligned text table."""
    cells = [[str(c) for c in header], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for index, row in enumerate(cells):
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)
