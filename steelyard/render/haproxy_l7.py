"""The L7 policies of one HTTP frontend: an `acl` per rule, then the policies' actions.

Facts this relies on (HAProxy 2.6):
- A frontend runs every `http-request` rule before any `use_backend`. Octavia writes REJECT as
  `http-request deny` and REDIRECT_TO_POOL as `use_backend`, so a REJECT at position 2 wins
  over a pool at position 1. Here every action is an `http-request` rule in position order; a
  pool policy sets a variable, and the policies after it only apply while that variable is
  unset (`!sy_l7_routed`). One `use_backend` line then sends the request to the pool named in
  the variable. The first matching policy decides, whatever the actions.
- Rule values are written as one strong-quoted word (`validate.quoted`) after `--`: without the
  `--`, a value like `-f` would be read as a flag (`-f <file>` loads patterns from a file).
- `http-request redirect` reads its location as a log-format string, where `%` starts a
  directive; `%%` is a literal `%`.
- A rule's `-m` matcher: REGEX `reg`, STARTS_WITH `beg`, ENDS_WITH `end`, CONTAINS `sub`,
  EQUAL_TO `str`; host names compare case-insensitively (`-i`), as in Octavia. FILE_TYPE
  EQUAL_TO `jpg` matches paths ending in `.jpg` (`path_end`; Octavia writes `path_end -m str`,
  which compares the whole path and never matches); FILE_TYPE REGEX matches the whole path.
- Policies that are disabled, have no enabled rule, or send to a disabled pool are left out
  (Octavia does the same); a request they would have matched goes on to the next policy.
"""

from dataclasses import dataclass

from steelyard.model.l7 import (
    MAX_POSITION,
    MAX_RULES_PER_POLICY,
    MAX_VALUE,
    REDIRECT_CODES,
    L7CompareType,
    L7PolicyAction,
    L7RuleType,
    check_rule,
    check_url,
)
from steelyard.model.spec import L7PolicySpec, L7RuleSpec, PoolSpec
from steelyard.render import validate as v
from steelyard.render.errors import RenderError
from steelyard.render.haproxy_backend import pool_mode

ROUTED = "sy_l7_routed"  # acl: a pool policy has matched
POOL_VARIABLE = "txn.sy_l7_pool"
_MATCHERS = {
    L7CompareType.REGEX: "reg",
    L7CompareType.STARTS_WITH: "beg",
    L7CompareType.ENDS_WITH: "end",
    L7CompareType.CONTAINS: "sub",
    L7CompareType.EQUAL_TO: "str",
}
_FETCHES = {
    L7RuleType.HOST_NAME: "req.hdr(host) -i",
    L7RuleType.PATH: "path",
    L7RuleType.FILE_TYPE: "path",
}


@dataclass(frozen=True)
class L7Lines:
    """`requests` go before the listener's own fallback line, `backends` after it."""

    requests: list[str]
    backends: list[str]

    @property
    def routes_to_pools(self) -> bool:
        return bool(self.backends)


def l7_lines(policies: object, pools: dict[str, PoolSpec], mode: str) -> L7Lines:
    checked = _policies(policies)
    if checked and mode != "http":
        raise RenderError("L7 policies need an HTTP listener")
    applied = [policy for policy in checked if _applies(policy, pools)]
    acls = [_acl(rule) for policy in applied for rule in _enabled(policy)]
    actions: list[str] = []
    guard = ""  # set once a pool policy is written: later policies yield to it
    for policy in applied:
        condition = " ".join(_term(rule) for rule in _enabled(policy))
        actions.append(f"{_action(policy)} if {guard}{condition}")
        if policy.action is L7PolicyAction.REDIRECT_TO_POOL:
            guard = f"!{ROUTED} "
    if not guard:
        return L7Lines(requests=[*acls, *actions], backends=[])
    routed_acl = f"acl {ROUTED} var({POOL_VARIABLE}) -m found"
    return L7Lines(
        requests=[*acls, routed_acl, *actions],
        backends=[f"use_backend %[var({POOL_VARIABLE})] if {ROUTED}"],
    )


def _policies(policies: object) -> list[L7PolicySpec]:
    if not isinstance(policies, tuple | list):
        raise RenderError(f"listener.l7policies must be a sequence, got {v.describe(policies)}")
    seen: set[str] = set()
    checked: list[L7PolicySpec] = []
    for policy in policies:
        if not isinstance(policy, L7PolicySpec):
            raise RenderError(f"listener.l7policies holds {v.describe(policy)}")
        rules = policy.rules
        if not isinstance(rules, tuple | list) or len(rules) > MAX_RULES_PER_POLICY:
            raise RenderError(f"l7policy.rules must be at most {MAX_RULES_PER_POLICY} rules")
        ids = [v.uuid(policy.id, "l7policy.id").lower()]
        for rule in rules:
            if not isinstance(rule, L7RuleSpec):
                raise RenderError(f"l7policy.rules holds {v.describe(rule)}")
            ids.append(v.uuid(rule.id, "l7rule.id").lower())
        for ident in ids:
            if ident in seen:
                raise RenderError(f"id {ident} is used twice in the L7 policies")
            seen.add(ident)
        v.integer(policy.position, "l7policy.position", 1, MAX_POSITION)
        checked.append(policy)
    return sorted(checked, key=lambda policy: (policy.position, policy.id))


def _enabled(policy: L7PolicySpec) -> list[L7RuleSpec]:
    return [
        rule for rule in policy.rules if v.boolean(rule.admin_state_up, "l7rule.admin_state_up")
    ]


def _applies(policy: L7PolicySpec, pools: dict[str, PoolSpec]) -> bool:
    action = v.member_of(L7PolicyAction, policy.action, "l7policy.action")
    if not v.boolean(policy.admin_state_up, "l7policy.admin_state_up") or not _enabled(policy):
        return False
    if action is not L7PolicyAction.REDIRECT_TO_POOL:
        return True
    pool = pools.get(v.uuid(policy.redirect_pool_id, "l7policy.redirect_pool_id"))
    if pool is None:
        raise RenderError(
            f"l7policy {policy.id} uses pool {policy.redirect_pool_id}, not in the spec"
        )
    if pool_mode(pool) != "http":
        raise RenderError(f"l7policy {policy.id} cannot send HTTP requests to TCP pool {pool.id}")
    return v.boolean(pool.admin_state_up, "pool.admin_state_up")


def _term(rule: L7RuleSpec) -> str:
    name = v.uuid(rule.id, "l7rule.id")
    return f"!{name}" if v.boolean(rule.invert, "l7rule.invert") else name


def _acl(rule: L7RuleSpec) -> str:
    kind = v.member_of(L7RuleType, rule.type, "l7rule.type")
    compare = v.member_of(L7CompareType, rule.compare_type, "l7rule.compare_type")
    key, value = rule.key, rule.value
    if not isinstance(value, str) or not (key is None or isinstance(key, str)):
        raise RenderError(f"l7rule {rule.id}: key and value must be text")
    try:
        check_rule(kind, compare, key, value)
    except ValueError as exc:
        raise RenderError(f"l7rule {rule.id}: {exc}") from None
    head = f"acl {v.uuid(rule.id, 'l7rule.id')}"
    if kind is L7RuleType.SSL_CONN_HAS_CERT:
        return f"{head} ssl_c_used"
    if kind is L7RuleType.SSL_VERIFY_RESULT:
        return f"{head} ssl_c_verify eq {int(value)}"
    if kind is L7RuleType.FILE_TYPE and compare is L7CompareType.EQUAL_TO:
        return f"{head} path_end -- {v.quoted('.' + value.removeprefix('.'), 'l7rule.value')}"
    # key passed check_rule: an HTTP token or DN field name, nothing HAProxy reads specially
    fetch = {
        L7RuleType.HEADER: f"req.hdr({key})",
        L7RuleType.COOKIE: f"req.cook({key})",
        L7RuleType.SSL_DN_FIELD: f"ssl_c_s_dn({key})",
    }.get(kind) or _FETCHES[kind]
    quoted = v.quoted(value, "l7rule.value", MAX_VALUE)
    return f"{head} {fetch} -m {_MATCHERS[compare]} -- {quoted}"


def _action(policy: L7PolicySpec) -> str:
    action = v.member_of(L7PolicyAction, policy.action, "l7policy.action")
    if action is L7PolicyAction.REJECT:
        return "http-request deny"
    if action is L7PolicyAction.REDIRECT_TO_POOL:
        pool_id = v.uuid(policy.redirect_pool_id, "l7policy.redirect_pool_id")
        return f"http-request set-var({POOL_VARIABLE}) str({pool_id})"
    code = policy.redirect_http_code
    if code not in REDIRECT_CODES:
        raise RenderError(f"l7policy.redirect_http_code must be one of {REDIRECT_CODES}")
    target, how = (
        (policy.redirect_url, "location")
        if action is L7PolicyAction.REDIRECT_TO_URL
        else (policy.redirect_prefix, "prefix")
    )
    try:
        url = check_url(target) if isinstance(target, str) and len(target) <= MAX_VALUE else None
    except ValueError:
        url = None
    if url is None:
        raise RenderError(f"l7policy {policy.id}: {how} must be an http(s) URL")
    # log-format: `%%` is a literal `%`
    location = v.quoted(url.replace("%", "%%"), "l7policy.redirect", 2 * MAX_VALUE)
    return f"http-request redirect {how} {location} code {code}"
