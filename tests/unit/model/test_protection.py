import pytest
from pydantic import ValidationError

from steelyard.model.protection import UNDER_ATTACK, Protection, effective_protection
from steelyard.model.spec import ProtectionSpec


def test_nothing_set_means_no_protection() -> None:
    assert effective_protection(None) is None
    assert effective_protection(Protection(), Protection()) is None


def test_tenant_values_fill_from_deployment_defaults() -> None:
    spec = effective_protection(
        Protection(req_rate_per_source=50),
        Protection(req_rate_per_source=500, max_conn_per_source=100, action="reject"),
    )
    assert spec == ProtectionSpec(req_rate_per_source=50, max_conn_per_source=100, action="reject")


def test_operator_override_cannot_be_loosened_by_the_tenant() -> None:
    tenant = Protection(req_rate_per_source=1000, req_rate_period_s=1, max_body_bytes=10_000_000)
    override = Protection(req_rate_per_source=100, req_rate_period_s=10, max_body_bytes=1_000_000)
    spec = effective_protection(tenant, None, (override,))
    assert spec is not None
    assert (spec.req_rate_per_source, spec.req_rate_period_s) == (100, 10)
    assert spec.max_body_bytes == 1_000_000


def test_a_stricter_tenant_stays_stricter_than_the_override() -> None:
    spec = effective_protection(
        Protection(max_conn_per_source=5), None, (Protection(max_conn_per_source=50),)
    )
    assert spec is not None and spec.max_conn_per_source == 5


def test_rates_compare_per_second() -> None:
    spec = effective_protection(
        Protection(conn_rate_per_source=5, conn_rate_period_s=1),  # 5/s
        None,
        (Protection(conn_rate_per_source=20, conn_rate_period_s=10),),  # 2/s: stricter
    )
    assert spec is not None
    assert (spec.conn_rate_per_source, spec.conn_rate_period_s) == (20, 10)


def test_deny_lists_add_up_and_beat_allow_lists() -> None:
    spec = effective_protection(
        Protection(deny_cidrs=["203.0.113.128/25"]),
        None,
        (
            Protection(
                deny_cidrs=["198.51.100.0/24"], allow_cidrs=["203.0.113.0/24", "192.0.2.0/24"]
            ),
        ),
    )
    assert spec is not None
    assert spec.deny_cidrs == ("203.0.113.128/25", "198.51.100.0/24")
    assert spec.allow_cidrs == ("192.0.2.0/24",)


def test_tenant_allow_list_counts_without_overrides() -> None:
    spec = effective_protection(
        Protection(req_rate_per_source=10, allow_cidrs=["192.0.2.0/24"]), None
    )
    assert spec is not None and spec.allow_cidrs == ("192.0.2.0/24",)


def test_a_tenant_allow_list_cannot_switch_an_override_off() -> None:
    tenant = Protection(allow_cidrs=["0.0.0.0/0", "::/0"])
    for overrides in ((Protection(req_rate_per_source=5),), (UNDER_ATTACK,)):
        spec = effective_protection(tenant, None, overrides)
        assert spec is not None and spec.allow_cidrs == ()


def test_large_lists_merge_quickly() -> None:
    allow = [f"10.{i // 256}.{i % 256}.0/24" for i in range(1000)]
    deny = [f"172.16.{i // 4}.{(i % 4) * 64}/26" for i in range(1000)]
    tenant = Protection(allow_cidrs=allow, deny_cidrs=deny)
    override = Protection(deny_cidrs=[f"10.{i}.0.0/16" for i in range(0, 4)])
    spec = effective_protection(tenant, None, (override,))
    assert spec is not None and len(spec.deny_cidrs) == 1004
    # the same lists without an override: the allow entries under the denied /16s drop out
    no_override = effective_protection(Protection(allow_cidrs=allow), Protection(), ())
    assert no_override is not None and len(no_override.allow_cidrs) == 1000


def test_overlap_check_finds_containment_both_ways() -> None:
    with pytest.raises(ValidationError):
        Protection(deny_cidrs=["10.0.0.0/8"], allow_cidrs=["10.200.0.0/16"])
    with pytest.raises(ValidationError):
        Protection(deny_cidrs=["10.1.2.0/24"], allow_cidrs=["10.0.0.0/8"])
    with pytest.raises(ValidationError):
        Protection(deny_cidrs=["fd00::/64"], allow_cidrs=["fd00::/8"])
    Protection(deny_cidrs=["10.0.0.0/16", "fd00::/64"], allow_cidrs=["10.1.0.0/16", "fd01::/64"])


def test_under_attack_profile_tightens_everything_it_names() -> None:
    spec = effective_protection(Protection(req_rate_per_source=10_000), None, (UNDER_ATTACK,))
    assert spec is not None
    assert spec.action == "tarpit"
    assert spec.req_rate_per_source == 100
    assert spec.max_conn_per_source == 20


@pytest.mark.parametrize(
    "body",
    [
        {"req_rate_per_source": 0},
        {"req_rate_per_source": -1},
        {"req_rate_per_source": 10**12},
        {"req_rate_per_source": "10"},
        {"req_rate_per_source": 10, "req_rate_period_s": 0},
        {"conn_rate_period_s": 10},
        {"max_body_bytes": 1},
        {"table_size": 10**9},
        {"action": "drop"},
        {"deny_cidrs": ["10.0.0.1/24"]},  # host bits set
        {"deny_cidrs": ["10.0.0.0/24\nbind"]},
        {"deny_cidrs": ["10.0.0.0/8", "10.0.0.0/8"]},
        {"deny_cidrs": ["10.0.0.0/8"], "allow_cidrs": ["10.1.0.0/16"]},
        {"deny_cidrs": "10.0.0.0/8"},
        {"deny_cidrs": ["x" * 5000]},
        {"trusted_proxies": ["not-a-net/8"]},
        {"unknown_field": 1},
        {"accept_proxy": "yes"},
    ],
)
def test_bad_settings_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Protection.model_validate(body)
