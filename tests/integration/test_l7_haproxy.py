"""L7 rules in a real HAProxy 2.6: every regex the API accepts passes `haproxy -c`, the ones it
refuses for HAProxy's sake are refused by HAProxy too, and hostile values match literally.

HAProxy runs as a plain process on loopback (VIP 127.0.0.1, a free port) in front of an
in-process HTTP backend; the fixture stops it by PID, also when a test fails.
"""

import http.client
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from steelyard.model.enums import LBAlgorithm, ListenerProtocol, PoolProtocol
from steelyard.model.l7 import L7CompareType, L7PolicyAction, L7RuleType, check_regex
from steelyard.model.spec import (
    L7PolicySpec,
    L7RuleSpec,
    ListenerSpec,
    LoadBalancerSpec,
    MemberSpec,
    PoolSpec,
    RenderSettings,
    RuntimePaths,
)
from steelyard.render.haproxy import render_haproxy
from tests.integration.test_render_haproxy_check import HAPROXY
from tests.support.http_backend import HttpBackend

pytestmark = pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")

LB = "0b000000-0000-4000-8000-000000000000"
LISTENER = "a0000000-0000-4000-8000-000000000001"
POOL = "b0000000-0000-4000-8000-000000000001"
ACCEPTED = [
    r"^/api/v[0-9]+/",
    r"\.(png|jpe?g|gif)$",
    r"(?i)^/ADMIN",
    r"(?P<id>[a-f0-9]{8})-(?P=id)",
    r"^/a\{2\}/b{2,3}$",
    r"a++b",
    r"(?>atomic)",
    r"(?x) a b  # extended",
    r"\x41\0\v\t\d\w\s\b",
    r"(?s).*(?-s:x)$",
    r"it's \"quoted\" #$ {braces}",
    r"\\1 is an escaped backslash",
    r"[\]\[{}]",
    r"(?:non)(?=look)(?!ahead)(?<=b)(?<!c)",
    r"\Z",
]
# Python takes these; HAProxy refuses them (so the API refuses them first).
REFUSED_FOR_HAPROXY = [r"\u0041", r"\N{DIGIT ONE}", r"(?a)x", r"(?u)x", r"(a)\1", r"(a)(?(1)b|c)"]


def spec_with(policies: tuple[L7PolicySpec, ...], port: int, backend_port: int) -> LoadBalancerSpec:
    member = MemberSpec("c0000000-0000-4000-8000-000000000001", "127.0.0.1", backend_port)
    return LoadBalancerSpec(
        id=LB,
        vip_address="127.0.0.1",
        listeners=(ListenerSpec(LISTENER, ListenerProtocol.HTTP, port, POOL, l7policies=policies),),
        pools=(PoolSpec(POOL, PoolProtocol.HTTP, LBAlgorithm.ROUND_ROBIN, (member,)),),
    )


def rule_id(n: int) -> str:
    return f"f7000000-0000-4000-8000-{n:012d}"


def reject(n: int, rule: L7RuleSpec) -> L7PolicySpec:
    return L7PolicySpec(f"e7000000-0000-4000-8000-{n:012d}", L7PolicyAction.REJECT, n, (rule,))


def write_config(tmp_path: Path, spec: LoadBalancerSpec) -> Path:
    paths = RuntimePaths(str(tmp_path / "stats.sock"), str(tmp_path / "server-state"))
    config = tmp_path / "haproxy.cfg"
    config.write_text(render_haproxy(spec, RenderSettings(paths=paths)))
    return config


def check(config: Path) -> subprocess.CompletedProcess[str]:
    assert HAPROXY is not None
    return subprocess.run(
        [HAPROXY, "-c", "-f", str(config)], capture_output=True, text=True, timeout=30, check=False
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_every_accepted_regex_passes_haproxy_check(tmp_path: Path) -> None:
    for regex in ACCEPTED:
        check_regex(regex)
    policies = tuple(
        reject(n, L7RuleSpec(rule_id(n), L7RuleType.PATH, L7CompareType.REGEX, regex))
        for n, regex in enumerate(ACCEPTED, start=1)
    )
    result = check(write_config(tmp_path, spec_with(policies, 8080, 8081)))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("regex", REFUSED_FOR_HAPROXY)
def test_refused_regexes_are_refused_by_haproxy_too(regex: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Unable to parse"):
        check_regex(regex)
    quoted = "'" + regex.replace("'", "'\\''") + "'"
    config = tmp_path / "raw.cfg"
    config.write_text(
        "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n"
        "    timeout connect 1s\nfrontend f\n    bind 127.0.0.1:8080\n"
        f"    acl r path -m reg -- {quoted}\n    http-request deny if r\n"
    )
    result = check(config)
    assert result.returncode != 0 and "regex" in result.stderr


@pytest.fixture
def backend() -> Iterator[HttpBackend]:
    with HttpBackend("member") as member:
        yield member


HOSTILE_HEADERS = ["it's\"#${HOME}\\", "-f", "{x}", "a%20b", "%[src]", "semi;colon'"]
REDIRECT = "http://example.com/a%20b?q='x'&y=$#top"


@pytest.fixture
def haproxy(tmp_path: Path, backend: HttpBackend) -> Iterator[int]:
    port = free_port()
    rules = [
        L7RuleSpec(rule_id(n), L7RuleType.HEADER, L7CompareType.EQUAL_TO, value, key="X-Test")
        for n, value in enumerate(HOSTILE_HEADERS, start=1)
    ]
    policies = [reject(n, rule) for n, rule in enumerate(rules, start=1)]
    redirect_rule = L7RuleSpec(rule_id(99), L7RuleType.PATH, L7CompareType.EQUAL_TO, "/go")
    policies.append(
        L7PolicySpec(
            "e7000000-0000-4000-8000-000000000099",
            L7PolicyAction.REDIRECT_TO_URL,
            99,
            (redirect_rule,),
            redirect_url=REDIRECT,
            redirect_http_code=307,
        )
    )
    config = write_config(tmp_path, spec_with(tuple(policies), port, backend.port))
    assert HAPROXY is not None
    process = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "haproxy did not listen"
                time.sleep(0.05)
        yield port
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def get(port: int, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_hostile_values_match_literally(haproxy: int) -> None:
    for value in HOSTILE_HEADERS:
        assert get(haproxy, "/", {"X-Test": value}).status == 403, value
        near_miss = get(haproxy, "/", {"X-Test": value + "x"})
        assert near_miss.status == 200 and near_miss.getheader("X-Backend") == "member", value
    redirected = get(haproxy, "/go", {})
    assert redirected.status == 307
    assert redirected.getheader("Location") == REDIRECT
