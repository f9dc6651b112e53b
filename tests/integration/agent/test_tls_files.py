"""The agent writes the TLS files a config names, keeps them in step with the config in force,
and refuses names that are not plain file names (real HAProxy, real certificates)."""

import socket
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from pydantic import ValidationError

from steelyard.agent.client import AgentApplyError, AgentClient
from steelyard.agent.contract import ApplianceInfo
from steelyard.agent.pki import PkiPaths, client_ssl_context
from steelyard.model.enums import LBAlgorithm, ListenerProtocol, PoolProtocol
from steelyard.model.secret import SecretMaterial, parse_secret
from steelyard.model.spec import (
    ListenerSpec,
    ListenerTlsSpec,
    LoadBalancerSpec,
    MemberSpec,
    PoolSpec,
    RenderSettings,
    RuntimePaths,
    TlsFile,
)
from steelyard.render.haproxy import render_haproxy
from steelyard.render.haproxy_tls import tls_files
from tests.integration.agent.helpers import Backend, ThreadedAgent, free_port
from tests.support.certs import NOW, Leaf, TestCA

SECRET = "d0000000-0000-4000-8000-000000000001"
CA = TestCA()


def _config(
    info: ApplianceInfo, port: int, backend: Backend, leaf: Leaf, version: str
) -> tuple[str, dict[str, str]]:
    spec = LoadBalancerSpec(
        id="0b000000-0000-4000-8000-000000000000",
        vip_address="127.0.0.1",
        listeners=(
            ListenerSpec(
                id="a0000000-0000-4000-8000-000000000001",
                protocol=ListenerProtocol.TERMINATED_HTTPS,
                protocol_port=port,
                default_pool_id="b0000000-0000-4000-8000-000000000001",
                tls=ListenerTlsSpec(certificates=(TlsFile(SECRET, version),)),
            ),
        ),
        pools=(
            PoolSpec(
                id="b0000000-0000-4000-8000-000000000001",
                protocol=PoolProtocol.HTTP,
                lb_algorithm=LBAlgorithm.ROUND_ROBIN,
                members=(
                    MemberSpec("c0000000-0000-4000-8000-000000000001", "127.0.0.1", backend.port),
                ),
            ),
        ),
    )
    paths = RuntimePaths(
        info.paths.stats_socket, info.paths.server_state_file, tls_dir=info.paths.tls_dir
    )
    material = parse_secret(leaf.bundle(), None, None, NOW.replace(tzinfo=None)).material
    files = tls_files(spec, {SECRET: SecretMaterial(SECRET, version, material)}, paths.tls_dir)
    return render_haproxy(spec, RenderSettings(paths=paths)), files


def _served_certificate(port: int) -> x509.Certificate:
    context = ssl.create_default_context(cadata=CA.cert_pem)
    context.check_hostname = False
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def _tls_dir(info: ApplianceInfo) -> Path:
    assert info.paths.tls_dir is not None
    return Path(info.paths.tls_dir)


def test_files_are_written_rotated_and_pruned(
    agent: AgentClient, backends: tuple[Backend, Backend]
) -> None:
    info = agent.ensure_appliance("lb1")
    port = free_port()
    first, second = CA.issue("one.example"), CA.issue("two.example")
    cfg, files = _config(info, port, backends[0], first, "1111111111111111")
    assert agent.apply_config("lb1", 1, cfg, [f"127.0.0.1:{port}"], files=files).action == "started"
    directory = _tls_dir(info)
    assert sorted(p.name for p in directory.iterdir()) == sorted(files)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert all(stat.S_IMODE((directory / n).stat().st_mode) == 0o600 for n in files)
    assert _served_certificate(port) == first.cert

    cfg2, files2 = _config(info, port, backends[0], second, "2222222222222222")
    assert agent.apply_config("lb1", 2, cfg2, [f"127.0.0.1:{port}"], files=files2).action == (
        "reloaded"
    )
    assert _served_certificate(port) == second.cert
    # The first certificate's files went with the config that named them.
    assert sorted(p.name for p in directory.iterdir()) == sorted(files2)


def test_a_refused_config_leaves_the_previous_files_in_place(
    agent: AgentClient, backends: tuple[Backend, Backend]
) -> None:
    info = agent.ensure_appliance("lb1")
    port = free_port()
    leaf = CA.issue("one.example")
    cfg, files = _config(info, port, backends[0], leaf, "1111111111111111")
    agent.apply_config("lb1", 1, cfg, [f"127.0.0.1:{port}"], files=files)
    directory = _tls_dir(info)
    before = {p.name: p.read_text() for p in directory.iterdir()}

    # New names whose certificate HAProxy cannot load, and one existing file rewritten.
    cfg2, files2 = _config(info, port, backends[0], CA.issue("two.example"), "2222222222222222")
    broken = {name: "-----BEGIN CERTIFICATE-----\nbroken\n" for name in files2}
    rewritten = {**broken, **dict.fromkeys(files, "garbage")}
    with pytest.raises(AgentApplyError) as refused:
        agent.apply_config("lb1", 2, cfg2, [f"127.0.0.1:{port}"], files=rewritten)
    assert refused.value.error.stage == "validate"
    assert {p.name: p.read_text() for p in directory.iterdir()} == before
    assert _served_certificate(port) == leaf.cert
    # The previous config still reloads from its own files.
    changed = cfg.replace("maxconn 5000", "maxconn 4999")
    assert agent.apply_config("lb1", 3, changed, [f"127.0.0.1:{port}"], files=files).action == (
        "reloaded"
    )
    assert _served_certificate(port) == leaf.cert


@pytest.fixture
def raw(threaded_agent: ThreadedAgent, pki: PkiPaths) -> Iterator[httpx.Client]:
    """The agent's API without the client's own checks (which refuse the same things)."""
    with httpx.Client(base_url=threaded_agent.url, verify=client_ssl_context(pki)) as client:
        yield client


@pytest.mark.parametrize(
    "name",
    ["../escape.pem", "/etc/passwd", "a/b.pem", "cert.pem\n", "x.key", ".hidden.pem", "A.pem", ""],
)
def test_file_names_must_be_plain_names(agent: AgentClient, raw: httpx.Client, name: str) -> None:
    info = agent.ensure_appliance("lb1")
    body = {"generation": 1, "haproxy_cfg": "global\n", "files": {name: "x"}}
    assert raw.put("/v1/appliances/lb1/config", json=body).status_code == 422
    assert not _tls_dir(info).exists()
    with pytest.raises(ValidationError):
        agent.apply_config("lb1", 1, "global\n", files={name: "x"})


def test_oversized_files_are_refused(agent: AgentClient, raw: httpx.Client) -> None:
    agent.ensure_appliance("lb1")
    for files in (
        {"big.pem": "x" * 1_000_001},
        {f"f{i}.pem": "x" * 999_999 for i in range(33)},  # 33 MB together
    ):
        body = {"generation": 1, "haproxy_cfg": "global\n", "files": files}
        assert raw.put("/v1/appliances/lb1/config", json=body).status_code == 422
