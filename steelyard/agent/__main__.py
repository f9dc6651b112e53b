"""`python -m steelyard.agent --listen 127.0.0.1:PORT --state-dir DIR --pki-dir DIR`.

With --exit-with-parent the agent gets SIGTERM when the process that started it dies
(prctl PR_SET_PDEATHSIG). HAProxy is not affected: it runs daemonised in its own session and
the setting is not inherited across fork, so the data plane outlives a control-plane crash.
Note that Linux sends the signal when the *thread* that forked the agent exits, so a parent
should spawn it from a long-lived thread.
"""

import argparse
import ctypes
import logging
import os
import signal
import sys
from pathlib import Path

from steelyard.agent.haproxy_process import DEFAULT_BINARY
from steelyard.agent.heartbeat import DEFAULT_INTERVAL_S, read_key_file
from steelyard.agent.pki import ensure_pki
from steelyard.agent.server import run_agent

_PR_SET_PDEATHSIG = 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.exit_with_parent:
        _exit_with_parent()
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        print(f"--listen must be HOST:PORT, got {args.listen!r}", file=sys.stderr)
        return 2
    pki = ensure_pki(args.pki_dir.resolve())
    logging.getLogger("steelyard.agent").info(
        "agent on %s, state %s, server certificate valid until %s",
        args.listen,
        args.state_dir,
        pki.server_not_after.isoformat(),
    )
    key = read_key_file(args.heartbeat_key_file) if args.heartbeat_key_file else None
    run_agent(
        host.strip("[]"),
        int(port),
        args.state_dir.resolve(),
        pki,
        haproxy_bin=args.haproxy,
        heartbeat_key=key,
        heartbeat_interval_s=args.heartbeat_interval,
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m steelyard.agent", description=__doc__)
    parser.add_argument("--listen", required=True, help="HOST:PORT to serve the agent API on")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--pki-dir", required=True, type=Path)
    parser.add_argument("--haproxy", type=Path, default=DEFAULT_BINARY)
    parser.add_argument(
        "--heartbeat-key-file",
        type=Path,
        help="HMAC key (32 bytes, or 64 hex digits) to sign heartbeats with; none: no heartbeats",
    )
    parser.add_argument(
        "--heartbeat-interval",
        type=_positive_seconds,
        default=DEFAULT_INTERVAL_S,
        help="seconds between two heartbeats of an appliance",
    )
    parser.add_argument("--exit-with-parent", action="store_true")
    parser.add_argument("--log-level", default="INFO")
    return parser


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not 0.01 <= value <= 60:
        raise argparse.ArgumentTypeError("must be between 0.01 and 60 seconds")
    return value


def _exit_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    # The parent may have died before the prctl: then we are already orphaned.
    if os.getppid() == 1:
        sys.exit("parent already gone")


if __name__ == "__main__":
    sys.exit(main())
