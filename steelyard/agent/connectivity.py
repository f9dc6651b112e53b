"""Member connectivity, tested from inside an appliance's network namespace.

For each target: a TCP connect to the member's address and port (its timing, or the precise
error), then the pool's health check on a new connection, as HAProxy makes it: an HTTP(S)
request whose status must be one of the expected codes, or a TLS handshake.

Probes run on a thread pool created by a thread that has joined the namespace (`run_in_netns`):
threads inherit the namespace of the thread that creates them, so every probe's socket is the
appliance's. Each step waits at most `timeout_s`; a request has at most MAX_TARGETS targets.
"""

import errno
import socket
import ssl
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from steelyard.agent.netns import run_in_netns
from steelyard.model.diagnostics import (
    CheckResult,
    HealthCheckProbe,
    ProbeError,
    ProbeResult,
    ProbeTarget,
    ProbeVerdict,
    TcpResult,
)

USER_AGENT = "steelyard-diagnostics"
_MAX_STATUS_LINE = 8192
_REFUSED = {errno.ECONNREFUSED}
_UNREACHABLE = {
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.EADDRNOTAVAIL,
    errno.EACCES,  # a `prohibit` route, or a local firewall rule that rejects
    errno.EPERM,
    errno.EINVAL,  # a `blackhole` route
}
_RESET = {errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED}
_TCP_VERDICTS: dict[str, ProbeVerdict] = {
    "refused": "refused",
    "timeout": "timeout",
    "unreachable": "unreachable",
    "reset": "reset",
}


class _ProbeFailed(Exception):
    def __init__(self, kind: ProbeError, code: str | None, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.code = code
        self.detail = detail


def probe_all(
    targets: Sequence[ProbeTarget], netns: str | None, timeout_s: float, concurrency: int
) -> list[ProbeResult]:
    """Probe every target, at most `concurrency` at a time; results in the targets' order."""
    if not targets:
        return []

    def run() -> list[ProbeResult]:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(targets))) as pool:
            return list(pool.map(lambda target: probe(target, timeout_s), targets))

    return run() if netns is None else run_in_netns(netns, run)


def probe(target: ProbeTarget, timeout_s: float) -> ProbeResult:
    tcp = _tcp(target.address, target.port, timeout_s)
    check = None
    same_endpoint = (target.monitor_address or target.address, target.monitor_port or target.port)
    if target.check is not None and (tcp.ok or same_endpoint != (target.address, target.port)):
        check = _check(target.check, *same_endpoint, timeout_s)
    return ProbeResult(target=target, tcp=tcp, check=check, verdict=verdict(tcp, check))


def verdict(tcp: TcpResult, check: CheckResult | None) -> ProbeVerdict:
    if not tcp.ok:
        return _TCP_VERDICTS.get(tcp.error or "", "error")
    if check is None or check.ok:
        return "ok"
    return "unexpected_status" if check.error == "unexpected_status" else "check_failed"


def expected(codes: str, status: int) -> bool:
    """`status` matches "200", "200,202" or "200-204" (the health monitor's syntax)."""
    if "-" in codes:
        low, high = codes.split("-", 1)
        return int(low) <= status <= int(high)
    return str(status) in codes.split(",")


def _tcp(address: str, port: int, timeout_s: float) -> TcpResult:
    start = time.perf_counter()
    try:
        _connect(address, port, timeout_s).close()
    except _ProbeFailed as exc:
        return TcpResult(
            ok=False, connect_ms=_ms(start), error=exc.kind, errno=exc.code, detail=exc.detail
        )
    return TcpResult(ok=True, connect_ms=_ms(start))


def _connect(address: str, port: int, timeout_s: float) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    try:
        sock.connect((address, port))
    except BaseException as exc:
        sock.close()
        raise _failure(exc, timeout_s, "connect") from exc
    return sock


def _check(probe: HealthCheckProbe, address: str, port: int, timeout_s: float) -> CheckResult:
    where = f"{f'[{address}]' if ':' in address else address}:{port}"
    if probe.type == "TLS-HELLO":
        described = f"TLS handshake -> {where}"
    elif probe.type == "TCP":
        described = f"TCP connect -> {where}"
    else:
        version = "1.1" if probe.http_version == 1.1 else "1.0"
        described = f"{probe.http_method.value} {probe.url_path} HTTP/{version} -> {where}"
    result = CheckResult(type=probe.type, request=described, ok=False)
    start = time.perf_counter()
    try:
        sock = _connect(address, port, timeout_s)
        try:
            if probe.type in ("HTTPS", "TLS-HELLO"):
                sock = _tls(sock, probe.domain_name, timeout_s)
            if probe.type in ("HTTP", "HTTPS"):
                start = time.perf_counter()
                status = _http_status(sock, probe, address, timeout_s)
                ok = expected(probe.expected_codes, status)
                return result.model_copy(
                    update={
                        "ok": ok,
                        "status_code": status,
                        "expected_codes": probe.expected_codes,
                        "response_ms": _ms(start),
                        "error": None if ok else "unexpected_status",
                        "detail": None if ok else f"HTTP {status}, expected {probe.expected_codes}",
                    }
                )
        finally:
            sock.close()
    except _ProbeFailed as exc:
        return result.model_copy(
            update={
                "expected_codes": probe.expected_codes if probe.type in ("HTTP", "HTTPS") else None,
                "response_ms": _ms(start),
                "error": exc.kind,
                "errno": exc.code,
                "detail": exc.detail,
            }
        )
    return result.model_copy(update={"ok": True, "response_ms": _ms(start)})


def _tls(sock: socket.socket, server_name: str | None, timeout_s: float) -> socket.socket:
    # Like HAProxy's `check-ssl verify none`: the member's certificate is not judged here.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        wrapped = context.wrap_socket(sock, server_hostname=server_name)
    except BaseException as exc:
        raise _failure(exc, timeout_s, "TLS handshake") from exc
    wrapped.settimeout(timeout_s)
    return wrapped


def _http_status(
    sock: socket.socket, probe: HealthCheckProbe, address: str, timeout_s: float
) -> int:
    version = "1.1" if probe.http_version == 1.1 else "1.0"
    lines = [f"{probe.http_method.value} {probe.url_path} HTTP/{version}"]
    if version == "1.1":
        lines.append(f"Host: {probe.domain_name or address}")
    if probe.http_method.value in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: 0")
    lines += [f"User-Agent: {USER_AGENT}", "Connection: close", "", ""]
    answer = b""
    try:
        sock.sendall("\r\n".join(lines).encode("ascii"))
        while b"\n" not in answer and len(answer) < _MAX_STATUS_LINE:
            chunk = sock.recv(_MAX_STATUS_LINE - len(answer))
            if not chunk:
                break
            answer += chunk
    except BaseException as exc:
        raise _failure(exc, timeout_s, "waiting for the answer") from exc
    first = answer.split(b"\n", 1)[0].decode("latin-1").strip()
    parts = first.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        said = repr(first[:80]) if first else "nothing"
        raise _ProbeFailed("protocol", None, f"not an HTTP answer: the member sent {said}")
    return int(parts[1])


def _failure(exc: BaseException, timeout_s: float, step: str) -> _ProbeFailed:
    if isinstance(exc, TimeoutError | socket.timeout):
        return _ProbeFailed("timeout", "ETIMEDOUT", f"no answer to the {step} in {timeout_s} s")
    if isinstance(exc, ssl.SSLError):
        return _ProbeFailed("tls", None, f"TLS: {exc.reason or exc}")
    if isinstance(exc, OSError) and exc.errno is not None:
        code = errno.errorcode.get(exc.errno, str(exc.errno))
        kind: ProbeError = (
            "refused"
            if exc.errno in _REFUSED
            else "unreachable"
            if exc.errno in _UNREACHABLE
            else "reset"
            if exc.errno in _RESET
            else "timeout"
            if exc.errno == errno.ETIMEDOUT
            else "error"
        )
        return _ProbeFailed(kind, code, exc.strerror or str(exc))
    if isinstance(exc, OSError):
        return _ProbeFailed("error", None, str(exc) or type(exc).__name__)
    raise exc


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
