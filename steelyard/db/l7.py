"""L7 policies and their rules: list, show, create, update, delete; the views of both; what the
reconciler renders from them.

Octavia's behaviour: a policy belongs to an HTTP listener; its `position` is 1-based among the
listener's live policies, a new or moved policy is inserted at its position (one beyond the end
appends) and the others shift; a REDIRECT_TO_POOL policy names a live HTTP pool of the same load
balancer and project (404 otherwise); a pool in use by a policy cannot be deleted (409). Every
write locks and bumps the load balancer and marks the listener (and, for rules, the policy)
PENDING_UPDATE, as Octavia's status locking does.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.access import (
    COMMON_DEFAULTS,
    COMMON_FIELDS,
    PENDING_DELETE,
    Written,
    apply_update,
    get_visible,
    mark_deleted,
    mark_updated,
    new_row,
    open_write,
    require_live,
)
from steelyard.db.listing import attributes, list_visible, show_visible
from steelyard.db.quotas import within_quota
from steelyard.model.faults import BadRequest, Conflict, NotFound
from steelyard.model.fields import ids, provider_unsupported
from steelyard.model.l7 import (
    CONFLICTING_REDIRECTS,
    MAX_RULES_PER_POLICY,
    SSL_LISTENER_PROTOCOLS,
    SSL_TYPES,
    L7CompareType,
    L7PolicyAction,
    L7RuleType,
    PolicyCreate,
    PolicyFull,
    PolicyOut,
    PolicySingleCreate,
    PolicyUpdate,
    RuleOut,
    RuleSingleCreate,
    RuleUpdate,
    check_rule,
    settle,
)
from steelyard.model.listing import ListQuery
from steelyard.model.spec import L7PolicySpec, L7RuleSpec

L7_LISTENER_PROTOCOLS = ("HTTP", "TERMINATED_HTTPS")
L7_POOL_PROTOCOLS = ("HTTP", "PROXY", "PROXYV2")  # Octavia: not TCP, UDP or SCTP pools
POLICY_FIELDS = (
    *COMMON_FIELDS,
    "action",
    "listener_id",
    "redirect_pool_id",
    "redirect_url",
    "redirect_prefix",
    "redirect_http_code",
    "position",
)
RULE_FIELDS = (
    *(name for name in COMMON_FIELDS if name not in ("name", "description")),
    "type",
    "compare_type",
    "key",
    "value",
    "invert",
)
POLICY_ATTRIBUTES = attributes(POLICY_FIELDS)
RULE_ATTRIBUTES = attributes(RULE_FIELDS, "l7policy_id")  # openstacksdk filters by it


# --- views -----------------------------------------------------------------------------------


def _columns(row: m.Base, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


def _rules_of(session: Session, policy_ids: Sequence[str]) -> dict[str, list[m.L7Rule]]:
    found: dict[str, list[m.L7Rule]] = defaultdict(list)
    if policy_ids:
        query = select(m.L7Rule).where(m.L7Rule.l7policy_id.in_(policy_ids))
        for rule in session.scalars(query.order_by(m.L7Rule.created_at, m.L7Rule.id)):
            found[rule.l7policy_id].append(rule)
    return found


def rules_view(_: Session, rows: Sequence[m.L7Rule]) -> list[RuleOut]:
    return [RuleOut(**_columns(row, RULE_FIELDS)) for row in rows]


def policies_view(session: Session, rows: Sequence[m.L7Policy]) -> list[PolicyOut]:
    rules = _rules_of(session, [row.id for row in rows])
    return [
        PolicyOut(**_columns(row, POLICY_FIELDS), rules=ids([r.id for r in rules[row.id]]))
        for row in rows
    ]


def _of_listeners(session: Session, listener_ids: Sequence[str]) -> list[m.L7Policy]:
    query = select(m.L7Policy).where(m.L7Policy.listener_id.in_(listener_ids))
    return list(session.scalars(query.order_by(m.L7Policy.position, m.L7Policy.id)))


def policy_ids_by_listener(session: Session, listener_ids: Sequence[str]) -> dict[str, list[str]]:
    """The `l7policies` of listener responses, in position order."""
    found: dict[str, list[str]] = defaultdict(list)
    for policy in _of_listeners(session, listener_ids) if listener_ids else []:
        found[policy.listener_id].append(policy.id)
    return found


def redirecting_listeners(session: Session, pool_ids: Sequence[str]) -> dict[str, list[str]]:
    """pool id -> the listeners whose live policies redirect to it."""
    found: dict[str, list[str]] = defaultdict(list)
    if pool_ids:
        query = select(m.L7Policy.redirect_pool_id, m.L7Policy.listener_id).where(
            m.L7Policy.redirect_pool_id.in_(pool_ids),
            m.L7Policy.provisioning_status != PENDING_DELETE,
        )
        for pool_id, listener_id in session.execute(query.order_by(m.L7Policy.position)):
            if pool_id is not None and listener_id not in found[pool_id]:
                found[pool_id].append(listener_id)
    return found


def full_policies_by_listener(
    session: Session, listener_ids: Sequence[str]
) -> dict[str, list[PolicyFull]]:
    """The `l7policies` of a fully populated create's listeners: rules expanded."""
    policies = _of_listeners(session, listener_ids) if listener_ids else []
    rules = _rules_of(session, [policy.id for policy in policies])
    found: dict[str, list[PolicyFull]] = defaultdict(list)
    for policy in policies:
        found[policy.listener_id].append(
            PolicyFull(
                **_columns(policy, POLICY_FIELDS), rules=rules_view(session, rules[policy.id])
            )
        )
    return found


# --- checks ----------------------------------------------------------------------------------


def _l7_listener(listener: m.Listener) -> None:
    if listener.protocol not in L7_LISTENER_PROTOCOLS:
        option = f"{listener.protocol} protocol listeners do not support L7 policies"
        raise BadRequest(str(provider_unsupported(option)))


def _redirect_pool(session: Session, listener: m.Listener, pool_id: str) -> str:
    """A live pool of the listener's load balancer and project that can take HTTP requests."""
    pool = session.scalar(
        select(m.Pool).where(
            m.Pool.id == pool_id,
            m.Pool.loadbalancer_id == listener.loadbalancer_id,
            m.Pool.project_id == listener.project_id,
            m.Pool.provisioning_status != PENDING_DELETE,
        )
    )
    if pool is None:
        raise NotFound("Pool", pool_id)
    check_redirect_pool(listener.protocol, pool.protocol)
    return pool.id


def check_redirect_pool(listener_protocol: str, pool_protocol: str) -> None:
    if pool_protocol not in L7_POOL_PROTOCOLS:
        raise BadRequest(
            f"The pool protocol '{pool_protocol}' is invalid while the listener protocol is "
            f"'{listener_protocol}'."
        )


def _rule_fits(listener: m.Listener, rule_type: L7RuleType) -> None:
    """Client certificates exist only where TLS ends: SSL_* rules need TERMINATED_HTTPS."""
    if rule_type in SSL_TYPES and listener.protocol not in SSL_LISTENER_PROTOCOLS:
        raise BadRequest(
            f"Error parsing L7Rule: L7rule type {rule_type} needs a TERMINATED_HTTPS listener."
        )


def check_pool_unused(session: Session, pool_id: str) -> None:
    """Octavia refuses to delete a pool that a policy redirects to."""
    policy = session.scalar(
        select(m.L7Policy.id).where(
            m.L7Policy.redirect_pool_id == pool_id,
            m.L7Policy.provisioning_status != PENDING_DELETE,
        )
    )
    if policy is not None:
        raise Conflict(f"Pool {pool_id} is in use by L7 policy {policy}")


def remove_policies(session: Session, listener_id: str) -> None:
    """Drop a listener's policies and rules now (its row is being replaced)."""
    policies = select(m.L7Policy.id).where(m.L7Policy.listener_id == listener_id)
    session.execute(delete(m.L7Rule).where(m.L7Rule.l7policy_id.in_(policies.scalar_subquery())))
    session.execute(delete(m.L7Policy).where(m.L7Policy.listener_id == listener_id))


# --- positions -------------------------------------------------------------------------------


def _place(session: Session, listener_id: str, policy: m.L7Policy | None, position: int) -> None:
    """Number the listener's live policies 1, 2, ... with `policy` at `position` (appended
    when beyond the end); `policy` None renumbers after a delete."""
    query = select(m.L7Policy).where(
        m.L7Policy.listener_id == listener_id, m.L7Policy.provisioning_status != PENDING_DELETE
    )
    others = [
        row
        for row in session.scalars(query.order_by(m.L7Policy.position, m.L7Policy.created_at))
        if policy is None or row.id != policy.id
    ]
    if policy is not None:
        others.insert(min(position, len(others) + 1) - 1, policy)
    for number, row in enumerate(others, start=1):
        row.position = number


# --- policies --------------------------------------------------------------------------------


def list_policies(session: Session, scope: str | None, query: ListQuery) -> list[PolicyOut]:
    return list_visible(session, m.L7Policy, scope, query, POLICY_ATTRIBUTES, policies_view)


def get_policy(session: Session, scope: str | None, ident: str) -> PolicyOut:
    return show_visible(session, m.L7Policy, scope, ident, policies_view)


def add_rule(
    session: Session,
    policy: m.L7Policy,
    listener: m.Listener,
    body: RuleSingleCreate,
    now: datetime,
) -> m.L7Rule:
    _rule_fits(listener, body.type)
    row = m.L7Rule(
        **new_row(policy, now, body),
        l7policy_id=policy.id,
        type=body.type.value,
        compare_type=body.compare_type.value,
        key=body.key,
        value=body.value,
        invert=body.invert,
    )
    session.add(row)
    return row


def add_policy(
    session: Session,
    listener: m.Listener,
    body: PolicySingleCreate | PolicyCreate,
    redirect_pool_id: str | None,
    now: datetime,
) -> m.L7Policy:
    """A policy with its rules; `redirect_pool_id` already checked by the caller."""
    _l7_listener(listener)
    policy = m.L7Policy(
        **new_row(listener, now, body),
        listener_id=listener.id,
        action=body.action.value,
        position=body.position,
        redirect_pool_id=redirect_pool_id,
        redirect_url=body.redirect_url,
        redirect_prefix=body.redirect_prefix,
        redirect_http_code=body.redirect_http_code,
    )
    session.add(policy)
    session.flush()
    _place(session, listener.id, policy, body.position)
    for rule in body.rules:
        add_rule(session, policy, listener, rule, now)
    mark_updated(listener, now)
    session.flush()
    return policy


def create_policy(session: Session, scope: str | None, body: PolicyCreate) -> Written[PolicyOut]:
    opened = open_write(session, m.Listener, body.listener_id, scope)
    listener = opened.row
    require_live(listener)
    _l7_listener(listener)
    pool_id = None
    if body.redirect_pool_id is not None:
        pool_id = _redirect_pool(session, listener, body.redirect_pool_id)
    with within_quota(session, listener.project_id):  # its rules count too
        policy = add_policy(session, listener, body, pool_id, opened.now)
    return Written(policies_view(session, [policy])[0], opened.loadbalancer_id)


def update_policy(
    session: Session, scope: str | None, ident: str, body: PolicyUpdate
) -> Written[PolicyOut]:
    opened = open_write(session, m.L7Policy, ident, scope)
    policy = opened.row
    require_live(policy)
    listener = session.get_one(m.Listener, policy.listener_id)
    given = body.model_fields_set
    apply_update(policy, body, COMMON_DEFAULTS)
    action = body.action_after(L7PolicyAction(policy.action))
    pool = body.redirect_pool_id if "redirect_pool_id" in given else policy.redirect_pool_id
    url = body.redirect_url if "redirect_url" in given else policy.redirect_url
    prefix = body.redirect_prefix if "redirect_prefix" in given else policy.redirect_prefix
    code = body.redirect_http_code if "redirect_http_code" in given else policy.redirect_http_code
    if action == L7PolicyAction.REDIRECT_TO_POOL and (body.redirect_url or body.redirect_prefix):
        raise BadRequest(CONFLICTING_REDIRECTS)
    try:
        pool, url, prefix, code = settle(action, pool, url, prefix, code)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if pool is not None and (pool != policy.redirect_pool_id or "redirect_pool_id" in given):
        pool = _redirect_pool(session, listener, pool)
    policy.action = action.value
    policy.redirect_pool_id, policy.redirect_url = pool, url
    policy.redirect_prefix, policy.redirect_http_code = prefix, code
    if body.position is not None:
        _place(session, listener.id, policy, body.position)
    mark_updated(policy, opened.now)
    mark_updated(listener, opened.now)
    session.flush()
    return Written(policies_view(session, [policy])[0], opened.loadbalancer_id)


def delete_policy(session: Session, scope: str | None, ident: str) -> Written[None]:
    """The policy and its rules go; the others close the gap in the positions."""
    opened = open_write(session, m.L7Policy, ident, scope)
    policy = opened.row
    require_live(policy)
    for rule in session.scalars(select(m.L7Rule).where(m.L7Rule.l7policy_id == policy.id)):
        mark_deleted(rule, opened.now)
    mark_deleted(policy, opened.now)
    listener = session.get_one(m.Listener, policy.listener_id)
    _place(session, listener.id, None, 0)
    if listener.provisioning_status != PENDING_DELETE:
        mark_updated(listener, opened.now)
    return Written(None, opened.loadbalancer_id)


# --- rules -----------------------------------------------------------------------------------

RULE_DEFAULTS = {**COMMON_DEFAULTS, "invert": False}


def _policy(session: Session, scope: str | None, policy_id: str) -> m.L7Policy:
    return get_visible(session, m.L7Policy, policy_id, scope)


def list_rules(
    session: Session, scope: str | None, policy_id: str, query: ListQuery
) -> list[RuleOut]:
    in_policy = [m.L7Rule.l7policy_id == _policy(session, scope, policy_id).id]
    return list_visible(session, m.L7Rule, scope, query, RULE_ATTRIBUTES, rules_view, in_policy)


def get_rule(session: Session, scope: str | None, policy_id: str, ident: str) -> RuleOut:
    policy = _policy(session, scope, policy_id)
    rule = get_visible(session, m.L7Rule, ident, scope, m.L7Rule.l7policy_id == policy.id)
    return rules_view(session, [rule])[0]


def _open_policy(
    session: Session, scope: str | None, policy_id: str
) -> tuple[m.L7Policy, m.Listener, datetime, str]:
    opened = open_write(session, m.L7Policy, policy_id, scope)
    require_live(opened.row)
    listener = session.get_one(m.Listener, opened.row.listener_id)
    mark_updated(opened.row, opened.now)
    mark_updated(listener, opened.now)
    return opened.row, listener, opened.now, opened.loadbalancer_id


def create_rule(
    session: Session, scope: str | None, policy_id: str, body: RuleSingleCreate
) -> Written[RuleOut]:
    policy, listener, now, lb_id = _open_policy(session, scope, policy_id)
    live = select(m.L7Rule.id).where(
        m.L7Rule.l7policy_id == policy.id, m.L7Rule.provisioning_status != PENDING_DELETE
    )
    if len(session.scalars(live).all()) >= MAX_RULES_PER_POLICY:
        raise Conflict(f"Too many rules on L7 policy {policy.id}")
    with within_quota(session, policy.project_id):
        rule = add_rule(session, policy, listener, body, now)
    session.flush()
    return Written(rules_view(session, [rule])[0], lb_id)


def update_rule(
    session: Session, scope: str | None, policy_id: str, ident: str, body: RuleUpdate
) -> Written[RuleOut]:
    """Octavia's PUT: the sent attributes over the stored rule, checked as a whole."""
    _policy(session, scope, policy_id)  # 404 for another project's policy first
    policy, listener, now, lb_id = _open_policy(session, scope, policy_id)
    rule = get_visible(session, m.L7Rule, ident, scope, m.L7Rule.l7policy_id == policy.id)
    require_live(rule)
    apply_update(rule, body, RULE_DEFAULTS)
    for name in ("type", "compare_type", "value"):
        if name in body.model_fields_set:
            value = getattr(body, name)
            if value is None:
                raise BadRequest(f"Invalid input for field/attribute {name}. Value: 'None'.")
            setattr(rule, name, str(value))
    if "key" in body.model_fields_set:
        rule.key = body.key
    rule_type = L7RuleType(rule.type)
    try:
        check_rule(rule_type, L7CompareType(rule.compare_type), rule.key, rule.value)
    except ValueError as exc:
        raise BadRequest(f"Error parsing L7Rule: {exc}") from None
    _rule_fits(listener, rule_type)
    mark_updated(rule, now)
    session.flush()
    return Written(rules_view(session, [rule])[0], lb_id)


def delete_rule(session: Session, scope: str | None, policy_id: str, ident: str) -> Written[None]:
    _policy(session, scope, policy_id)
    policy, _, now, lb_id = _open_policy(session, scope, policy_id)
    rule = get_visible(session, m.L7Rule, ident, scope, m.L7Rule.l7policy_id == policy.id)
    require_live(rule)
    mark_deleted(rule, now)
    return Written(None, lb_id)


# --- what the reconciler renders ---------------------------------------------------------------


@dataclass(frozen=True)
class L7State:
    """The live policies of each live listener, and the rows to remove once applied."""

    by_listener: dict[str, tuple[L7PolicySpec, ...]]
    doomed_policies: tuple[str, ...]
    doomed_rules: tuple[str, ...]


def load_l7(session: Session, listeners: Sequence[m.Listener], live_pools: set[str]) -> L7State:
    live_listeners = {li.id for li in listeners if li.provisioning_status != PENDING_DELETE}
    policies = _of_listeners(session, [li.id for li in listeners])
    rules = _rules_of(session, [policy.id for policy in policies])
    specs: dict[str, list[L7PolicySpec]] = defaultdict(list)
    doomed_policies, doomed_rules = [], []
    for policy in policies:
        policy_live = (
            policy.provisioning_status != PENDING_DELETE and policy.listener_id in live_listeners
        )
        if not policy_live:
            doomed_policies.append(policy.id)
        live_rules = []
        for rule in rules[policy.id]:
            if policy_live and rule.provisioning_status != PENDING_DELETE:
                live_rules.append(_rule_spec(rule))
            else:
                doomed_rules.append(rule.id)
        if policy_live:
            specs[policy.listener_id].append(_policy_spec(policy, live_rules, live_pools))
    return L7State(
        by_listener={listener: tuple(found) for listener, found in specs.items()},
        doomed_policies=tuple(doomed_policies),
        doomed_rules=tuple(doomed_rules),
    )


def _rule_spec(rule: m.L7Rule) -> L7RuleSpec:
    return L7RuleSpec(
        id=rule.id,
        type=L7RuleType(rule.type),
        compare_type=L7CompareType(rule.compare_type),
        value=rule.value,
        key=rule.key,
        invert=rule.invert,
        admin_state_up=rule.admin_state_up,
    )


def _policy_spec(policy: m.L7Policy, rules: list[L7RuleSpec], live_pools: set[str]) -> L7PolicySpec:
    # A pool being deleted cannot be in use (check_pool_unused); if it were, the policy would
    # send nowhere, so it is left out like a policy whose pool is disabled.
    enabled = policy.admin_state_up and (
        policy.action != L7PolicyAction.REDIRECT_TO_POOL or policy.redirect_pool_id in live_pools
    )
    return L7PolicySpec(
        id=policy.id,
        action=L7PolicyAction(policy.action),
        position=policy.position,
        rules=tuple(rules),
        redirect_pool_id=policy.redirect_pool_id,
        redirect_url=policy.redirect_url,
        redirect_prefix=policy.redirect_prefix,
        redirect_http_code=policy.redirect_http_code,
        admin_state_up=enabled,
    )
