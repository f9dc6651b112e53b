"""render/haproxy_tls.py beyond the goldens: the files a config names, rotation changing the
config, and references as the model reads them."""

from dataclasses import replace

import pytest

from steelyard.model.enums import LBAlgorithm, ListenerProtocol, PoolProtocol
from steelyard.model.secret import SecretMaterial
from steelyard.model.spec import (
    ListenerSpec,
    ListenerTlsSpec,
    LoadBalancerSpec,
    MemberSpec,
    PoolSpec,
    PoolTlsSpec,
    ProtectionSpec,
    RenderSettings,
    RuntimePaths,
    TlsFile,
)
from steelyard.model.tls import secret_id_of
from steelyard.render.errors import RenderError
from steelyard.render.haproxy import render_haproxy
from steelyard.render.haproxy_tls import tls_files

CERT, CA = "d0000000-0000-4000-8000-000000000001", "d0000000-0000-4000-8000-000000000002"
V1, V2 = "1" * 16, "2" * 16
PATHS = RuntimePaths("/run/a/stats.sock", "/run/a/state", tls_dir="/run/a/tls")


def spec(version: str = V1, **listener: object) -> LoadBalancerSpec:
    return LoadBalancerSpec(
        id="0b000000-0000-4000-8000-000000000000",
        vip_address="198.18.0.10",
        listeners=(
            ListenerSpec(
                id="a0000000-0000-4000-8000-000000000001",
                protocol=ListenerProtocol.TERMINATED_HTTPS,
                protocol_port=443,
                default_pool_id="b0000000-0000-4000-8000-000000000001",
                tls=ListenerTlsSpec(certificates=(TlsFile(CERT, version),)),
                **listener,  # type: ignore[arg-type]
            ),
        ),
        pools=(
            PoolSpec(
                id="b0000000-0000-4000-8000-000000000001",
                protocol=PoolProtocol.HTTP,
                lb_algorithm=LBAlgorithm.ROUND_ROBIN,
                members=(MemberSpec("c0000000-0000-4000-8000-000000000001", "198.18.1.1", 443),),
                tls=PoolTlsSpec(ca=TlsFile(CA, V1)),
            ),
        ),
    )


MATERIALS = {
    CERT: SecretMaterial(CERT, V1, "CERT AND KEY"),
    CA: SecretMaterial(CA, V1, "CA"),
}


def test_the_files_are_the_crt_list_and_each_secret_once() -> None:
    files = tls_files(spec(), MATERIALS, PATHS.tls_dir)
    crt_list = next(name for name in files if name.endswith(".crtlist"))
    assert files[crt_list] == f"/run/a/tls/{CERT}-{V1}.pem\n"
    assert files[f"{CERT}-{V1}.pem"] == "CERT AND KEY"
    assert files[f"{CA}-{V1}.pem"] == "CA"
    assert len(files) == 3
    config = render_haproxy(spec(), RenderSettings(paths=PATHS))
    assert f"crt-list /run/a/tls/{crt_list}" in config
    assert f"ca-file /run/a/tls/{CA}-{V1}.pem" in config


def test_a_rotation_changes_the_config_and_every_file_name() -> None:
    before = render_haproxy(spec(V1), RenderSettings(paths=PATHS))
    after = render_haproxy(spec(V2), RenderSettings(paths=PATHS))
    assert before != after  # the agent reloads: same text would mean "unchanged"
    renewed = {**MATERIALS, CERT: SecretMaterial(CERT, V2, "NEW")}
    old, new = (
        tls_files(spec(V1), MATERIALS, PATHS.tls_dir),
        tls_files(spec(V2), renewed, "/run/a/tls"),
    )
    assert set(old) & set(new) == {f"{CA}-{V1}.pem"}  # the unchanged CA keeps its name


def test_missing_or_changed_secrets_are_errors() -> None:
    with pytest.raises(RenderError, match="not available"):
        tls_files(spec(), {CA: MATERIALS[CA]}, PATHS.tls_dir)
    with pytest.raises(RenderError, match="changed while the config was rendered"):
        tls_files(spec(V2), MATERIALS, PATHS.tls_dir)
    with pytest.raises(RenderError, match="tls_dir"):
        tls_files(spec(), MATERIALS, None)
    with pytest.raises(RenderError, match="tls_dir"):
        render_haproxy(spec(), RenderSettings(paths=replace(PATHS, tls_dir=None)))


def test_nothing_without_tls() -> None:
    plain = replace(
        spec(),
        listeners=(replace(spec().listeners[0], protocol=ListenerProtocol.HTTP, tls=None),),
        pools=(replace(spec().pools[0], tls=None),),
    )
    assert tls_files(plain, {}, None) == {}


def test_protection_options_follow_the_tls_options_on_the_bind_line() -> None:
    protected = spec(protection=ProtectionSpec(accept_proxy=True, max_conn_per_source=5))
    config = render_haproxy(protected, RenderSettings(paths=PATHS))
    bind = next(line for line in config.splitlines() if line.strip().startswith("bind "))
    assert bind.index(" ssl crt-list ") < bind.index(" accept-proxy")


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (CERT, CERT),
        (CERT.upper(), CERT),
        (f"http://127.0.0.1:9876/v2/steelyard/secrets/{CERT}", CERT),
        (f"https://lb.example.com/prefix/v2.0/steelyard/secrets/{CERT}/", CERT),
        (f"/v2/steelyard/secrets/{CERT}", CERT),
        (f"https://kms.example.com/v1/containers/{CERT}", None),  # Barbican: not ours
        (f"http://a b/v2/steelyard/secrets/{CERT}", None),
        (f"http://h/v2/steelyard/secrets/{CERT}\n", None),
        (f"{CERT}x", None),
        ("", None),
    ],
)
def test_references(ref: str, expected: str | None) -> None:
    assert secret_id_of(ref) == expected
