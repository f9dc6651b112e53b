"""The appliance planner: which appliances a load balancer needs next (pure)."""

import pytest

from steelyard.controller.topology import (
    Current,
    NewAppliance,
    appliance_count,
    pick_host,
    plan_pass,
)
from steelyard.model.enums import ApplianceRole as Role
from steelyard.model.enums import ApplianceStatus as Status
from steelyard.model.enums import Topology

AS = Topology.ACTIVE_STANDBY
AA = Topology.ACTIVE_ACTIVE


def app(name: str, slot: int, status: Status = Status.ALLOCATED, role: Role = Role.BACKUP,
        host: str = "h1") -> Current:  # fmt: skip
    return Current(name=name, slot=slot, status=status, role=role, host=host)


def test_counts_per_topology() -> None:
    assert appliance_count(Topology.SINGLE, 5) == 1
    assert appliance_count(AS, 1) == 2
    assert appliance_count(AA, 3) == 3
    assert appliance_count(AA, 1) == 2


def test_a_new_active_standby_pair_starts_with_one_master() -> None:
    plan = plan_pass(AS, 2, [])
    assert [(n.slot, n.role) for n in plan.add] == [(0, Role.MASTER), (1, Role.BACKUP)]
    assert not plan.remove_first and plan.handover is None and not plan.remove_after


def test_a_complete_pair_needs_nothing_and_keeps_the_reported_master() -> None:
    plan = plan_pass(AS, 2, [app("a", 0, role=Role.BACKUP), app("b", 1, role=Role.MASTER)])
    assert not plan.changes_appliances
    assert plan.roles == {"a": Role.BACKUP, "b": Role.MASTER}


def test_a_dead_master_is_removed_first_and_its_replacement_is_a_backup() -> None:
    plan = plan_pass(
        AS, 2, [app("a", 0, Status.FAILED, Role.MASTER), app("b", 1, role=Role.BACKUP)]
    )
    assert plan.remove_first == ("a",)
    assert plan.roles == {"b": Role.MASTER}  # the survivor already holds the VIP
    assert plan.add == (NewAppliance(slot=2, role=Role.BACKUP, avoid_hosts=frozenset({"h1"})),)
    assert plan.handover is None


def test_operator_failover_of_a_pair_replaces_the_backup_then_hands_over() -> None:
    both = [app("a", 0, Status.RETIRING, Role.MASTER), app("b", 1, Status.RETIRING)]
    first = plan_pass(AS, 2, both)
    # Neither is replaced while no other appliance serves: one more is added first.
    assert first.remove_after == () and first.handover is None
    assert [(n.slot, n.role) for n in first.add] == [(2, Role.BACKUP)]
    one_new = [*both, app("c", 2)]
    second = plan_pass(AS, 2, one_new)
    assert second.handover is None and second.remove_after == ("b",)
    then = [app("a", 0, Status.RETIRING, Role.MASTER), app("c", 2)]
    third = plan_pass(AS, 2, then)
    assert third.handover == "a" and third.remove_after == ("a",)
    assert third.roles == {"c": Role.MASTER}
    assert [n.role for n in third.add] == [Role.BACKUP]


def test_a_retiring_backup_of_a_healthy_pair_is_replaced_in_one_pass() -> None:
    plan = plan_pass(AS, 2, [app("a", 0, role=Role.MASTER), app("b", 1, Status.RETIRING)])
    assert plan.remove_after == ("b",) and plan.handover is None
    assert [n.role for n in plan.add] == [Role.BACKUP]


def test_single_retiring_goes_first_because_its_vip_cannot_move() -> None:
    plan = plan_pass(Topology.SINGLE, 1, [app("a", 0, Status.RETIRING, Role.STANDALONE)])
    assert plan.remove_first == ("a",)
    assert plan.add == (NewAppliance(slot=1, role=Role.STANDALONE),)


def test_split_brain_keeps_the_lowest_slot_master() -> None:
    plan = plan_pass(AS, 2, [app("a", 3, role=Role.MASTER), app("b", 1, role=Role.MASTER)])
    assert plan.roles == {"b": Role.MASTER, "a": Role.BACKUP}


def test_active_active_scales_out_and_in() -> None:
    three = [app(n, i, role=Role.ACTIVE) for i, n in enumerate("abc")]
    out = plan_pass(AA, 4, three)
    assert [(n.slot, n.role) for n in out.add] == [(3, Role.ACTIVE)]
    shrink = plan_pass(AA, 2, three)
    assert shrink.remove_after == ("c",) and not shrink.add
    assert set(shrink.roles) == {"a", "b"}


def test_active_active_loss_removes_only_the_dead_one() -> None:
    three = [app("a", 0, role=Role.ACTIVE), app("b", 1, Status.FAILED), app("c", 2)]
    plan = plan_pass(AA, 3, three)
    assert plan.remove_first == ("b",)
    assert plan.roles == {"a": Role.ACTIVE, "c": Role.ACTIVE}
    assert [n.slot for n in plan.add] == [3]


def test_booting_appliances_count_as_serving_so_a_retry_does_not_add_twice() -> None:
    plan = plan_pass(AS, 2, [app("a", 0, Status.BOOTING, Role.MASTER), app("b", 1)])
    assert not plan.add


@pytest.mark.parametrize(
    ("avoid", "load", "expected"),
    [
        (frozenset(), {}, "h1"),
        (frozenset({"h1"}), {}, "h2"),
        (frozenset({"h1", "h2", "h3"}), {"h1": 3, "h2": 1, "h3": 2}, "h2"),
        (frozenset({"h1"}), {"h2": 9, "h3": 1}, "h3"),
    ],
)
def test_pick_host_places_apart_then_by_load(
    avoid: frozenset[str], load: dict[str, int], expected: str
) -> None:
    assert pick_host(["h1", "h2", "h3"], avoid, load) == expected


def test_pick_host_needs_a_host() -> None:
    with pytest.raises(ValueError, match="no host"):
        pick_host([], frozenset(), {})
