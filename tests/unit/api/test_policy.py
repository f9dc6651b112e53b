"""The policy language: a truth table against Python's own `and`/`or`/`not`, the default
rules role by role, and policy files that must be refused with a clear message."""

import itertools
import re
from pathlib import Path

import pytest

from steelyard.api.policy import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    Credentials,
    PolicyError,
    compile_rules,
    credentials,
    decide,
    load_policy,
    parse,
)
from steelyard.api.policy_defaults import DEFAULT_RULES, default_policy

OWN = "p-own"
# Each expression is also a Python expression once the checks are replaced by variables:
# a, b, c (roles), p (the object is the caller's project), x (is_admin).
EXPRESSIONS = [
    "@",
    "!",
    "",
    "role:a",
    "not role:a",
    "role:a and role:b",
    "role:a or role:b",
    "role:a or role:b and role:c",
    "(role:a or role:b) and role:c",
    "role:a and not role:b or role:c",
    "not (role:a and role:b)",
    "not not role:a",
    "role:a and project_id:%(project_id)s",
    "(project_id:%(project_id)s)",
    "((role:a)) or ((role:b and (role:c)))",
    "is_admin:True or role:a",
    "is_admin:False and role:b",
    "role:A AND role:B OR NOT role:C",  # keywords and roles are case-insensitive
    "@ and role:a",
    "! or role:b",
    "role:a or !",
]
_PYTHON = {
    "role:a": "a",
    "role:b": "b",
    "role:c": "c",
    "is_admin:True": "x",
    "is_admin:False": "(not x)",
    "@": "True",
    "!": "False",
}


def _as_python(expression: str) -> str:
    if not expression:
        return "True"
    lowered = re.sub(r"\b(AND|OR|NOT)\b", lambda m: m.group(1).lower(), expression)
    lowered = re.sub(r"role:([A-C])\b", lambda m: f"role:{m.group(1).lower()}", lowered)
    lowered = lowered.replace("project_id:%(project_id)s", "p")
    tokens = re.split(r"(\s+|\(|\))", lowered)
    return "".join(_PYTHON.get(token, token) for token in tokens)


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_truth_table(expression: str) -> None:
    check = compile_rules({"under_test": expression})
    python = _as_python(expression)
    for a, b, c, p, x in itertools.product((False, True), repeat=5):
        roles = frozenset(role for role, has in (("a", a), ("b", b), ("c", c)) if has)
        creds = Credentials(OWN, roles, is_admin=x)
        target = OWN if p else "p-other"
        expected = eval(python, {}, {"a": a, "b": b, "c": c, "p": p, "x": x})
        assert check.allows("under_test", creds, target) is expected, (expression, a, b, c, p, x)


def test_rules_refer_to_rules() -> None:
    policy = compile_rules(
        {"base": "role:a", "derived": "rule:base or role:b", "top": "rule:derived"}
    )
    assert policy.allows("top", Credentials(OWN, frozenset({"a"})), OWN)
    assert policy.allows("top", Credentials(OWN, frozenset({"b"})), OWN)
    assert not policy.allows("top", Credentials(OWN, frozenset({"c"})), OWN)


def test_a_literal_project_and_a_caller_without_project() -> None:
    policy = compile_rules({"ops": "project_id:ops", "owner": "project_id:%(project_id)s"})
    assert policy.allows("ops", Credentials("ops", frozenset()), "anything")
    assert not policy.allows("ops", Credentials(OWN, frozenset()), "ops")
    nobody = Credentials(None, frozenset())
    assert not policy.allows("owner", nobody, None)  # no project matches no project


# --- the defaults, role by role --------------------------------------------------------------

LB = "os_load-balancer_api:loadbalancer"
QUOTA = "os_load-balancer_api:quota"
FLAVOR = "os_load-balancer_api:flavor"
OPERATOR = "steelyard:operator"
# roles -> {rule: (allowed, every_project)}; keystone's implied roles already expanded
DEFAULTS_BY_ROLE: dict[tuple[str, ...], dict[str, tuple[bool, bool]]] = {
    ("reader",): {
        f"{LB}:get_one": (True, False),
        f"{LB}:get_all": (True, False),
        f"{LB}:post": (False, False),
        f"{LB}:put_failover": (False, False),
        f"{QUOTA}:get_one": (True, False),
        f"{QUOTA}:put": (False, False),
        f"{FLAVOR}:get_all": (True, False),
        f"{FLAVOR}:post": (False, False),
        OPERATOR: (False, False),
    },
    ("member", "reader"): {
        f"{LB}:get_one": (True, False),
        f"{LB}:get_all": (True, False),
        f"{LB}:post": (True, False),
        f"{LB}:delete": (True, False),
        f"{LB}:put_failover": (False, False),
        f"{QUOTA}:put": (False, False),
        f"{FLAVOR}:post": (False, False),
        OPERATOR: (False, False),
    },
    ("admin", "member", "reader"): {
        f"{LB}:get_one": (True, True),
        f"{LB}:get_all": (True, True),
        f"{LB}:post": (True, True),
        f"{LB}:put_failover": (True, True),
        f"{QUOTA}:put": (True, True),
        f"{FLAVOR}:post": (True, True),
        OPERATOR: (True, True),
    },
    ("load-balancer_observer",): {
        f"{LB}:get_one": (True, False),
        f"{LB}:get_all": (True, False),
        f"{LB}:post": (False, False),
        f"{QUOTA}:get_one": (True, False),
    },
    ("load-balancer_global_observer",): {
        f"{LB}:get_one": (True, True),
        f"{LB}:get_all": (True, True),
        f"{LB}:post": (False, False),
        f"{QUOTA}:get_all": (True, True),
        f"{QUOTA}:put": (False, False),
    },
    ("load-balancer_member",): {
        f"{LB}:get_one": (True, False),
        f"{LB}:post": (True, False),
        f"{LB}:put_failover": (False, False),
    },
    ("load-balancer_quota_admin",): {
        f"{LB}:get_all": (False, False),
        f"{QUOTA}:get_all": (True, True),
        f"{QUOTA}:put": (True, True),
        f"{QUOTA}:delete": (True, True),
    },
    ("load-balancer_admin",): {
        f"{LB}:get_all": (True, True),
        f"{LB}:delete": (True, True),
        f"{LB}:put_failover": (True, True),
        OPERATOR: (True, True),
    },
    ("creator", "swiftoperator"): {
        f"{LB}:get_all": (False, False),
        f"{FLAVOR}:get_all": (False, False),
        f"{OPERATOR}": (False, False),
    },
}


@pytest.mark.parametrize("roles", DEFAULTS_BY_ROLE, ids="+".join)
def test_default_rules_by_role(roles: tuple[str, ...]) -> None:
    policy = default_policy()
    creds = credentials(policy, OWN, frozenset(roles))
    for rule, (allowed, every) in DEFAULTS_BY_ROLE[roles].items():
        decision = decide(policy, rule, creds)
        assert (decision.allowed, decision.every_project) == (allowed, every), rule


def test_is_admin_comes_from_context_is_admin() -> None:
    policy = default_policy()
    assert credentials(policy, OWN, frozenset({"admin"})).is_admin
    assert credentials(policy, OWN, frozenset({"load-balancer_admin"})).is_admin
    assert not credentials(policy, OWN, frozenset({"member"})).is_admin


# --- policy files ----------------------------------------------------------------------------


def _load(tmp_path: Path, text: str | bytes) -> None:
    path = tmp_path / "policy.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    load_policy(path, DEFAULT_RULES)


def test_a_file_overrides_rules_by_name(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "# members may no longer write; readers may not list load balancers\n"
        '"load-balancer:write": "rule:load-balancer:admin"\n'
        '"os_load-balancer_api:loadbalancer:get_all": "not role:reader or role:member"\n'
        '"my-helper": "role:auditor"\n'
        '"os_load-balancer_api:flavor:get_all": "rule:my-helper"\n'
    )
    policy = load_policy(path, DEFAULT_RULES)
    member = credentials(policy, OWN, frozenset({"member", "reader"}))
    reader = credentials(policy, OWN, frozenset({"reader"}))
    auditor = credentials(policy, OWN, frozenset({"auditor"}))

    assert not decide(policy, f"{LB}:post", member).allowed
    assert decide(policy, f"{LB}:get_all", member).allowed
    assert not decide(policy, f"{LB}:get_all", reader).allowed
    assert decide(policy, f"{FLAVOR}:get_all", auditor).allowed
    assert not decide(policy, f"{FLAVOR}:get_all", member).allowed


@pytest.mark.parametrize("text", ["", "# nothing overridden\n", "{}\n"])
def test_an_empty_file_keeps_the_defaults(tmp_path: Path, text: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    assert load_policy(path, DEFAULT_RULES).rules == default_policy().rules


HOSTILE_FILES: list[tuple[str | bytes, str]] = [
    ("a: [", "not valid YAML"),
    ("- role:admin\n", "expected a mapping"),
    ('"load-balancer:write": ["role:admin"]\n', "must be a string"),
    ('"load-balancer:write": 1\n', "must be a string"),
    ('"load-balancer:write":\n', "must be a string"),
    ('"load-balancer:write": {"role": "admin"}\n', "must be a string"),
    ('1: "role:admin"\n', "invalid rule name"),
    ('"bad name": "@"\n', "invalid rule name"),
    ('"load-balancer:write": "role:admin and"\n', "ends where a check was expected"),
    ('"load-balancer:write": "(role:admin"\n', "is not closed"),
    ('"load-balancer:write": "role:admin)"\n', "unexpected ')'"),
    ('"load-balancer:write": "and role:admin"\n', "unexpected 'and'"),
    ('"load-balancer:write": "role:a or or role:b"\n', "unexpected 'or'"),
    ('"load-balancer:write": "()"\n', "unexpected ')'"),
    ('"load-balancer:write": "not"\n', "ends where a check was expected"),
    ('"load-balancer:write": "role"\n', "is not a check"),
    ('"load-balancer:write": "role:"\n', "is not a check"),
    ('"load-balancer:write": "http://example.invalid/check"\n', "unsupported check"),
    ('"load-balancer:write": "user_id:%(user_id)s"\n', "unsupported check"),
    ('"load-balancer:write": "project_id:%(user_id)s"\n', "unsupported check"),
    ('"load-balancer:write": "role:%(role)s"\n', "unsupported check"),
    ('"load-balancer:write": "is_admin:yes"\n', "unsupported check"),
    ('"load-balancer:write": "role:admin\'; DROP TABLE"\n', "unsupported check"),
    ('"load-balancer:write": "rule:no-such-rule"\n', "undefined rule 'no-such-rule'"),
    ('"a": "rule:b"\n"b": "rule:a"\n', "cycle: a -> b -> a"),
    ('"load-balancer:write": "rule:load-balancer:write"\n', "cycle"),
    ('"os_load-balancer_api:loadbalancer:get_on": "@"\n', "unknown rule"),
    ('"steelyard:operators": "@"\n', "unknown rule"),
    (
        f'"load-balancer:write": "{"(" * (MAX_DEPTH + 5)}@{")" * (MAX_DEPTH + 5)}"\n',
        "nested more than",
    ),
    (f'"load-balancer:write": "{"not " * (MAX_DEPTH + 5)}@"\n', "nested more than"),
    (
        "".join(f'"r{i}": "rule:r{i + 1}"\n' for i in range(MAX_DEPTH + 5))
        + f'"r{MAX_DEPTH + 5}": "@"\n',
        "refer more than",
    ),
    (b'"load-balancer:write": "role:\xff"\n', "not UTF-8"),
    ("#" * (MAX_FILE_BYTES + 1), "larger than"),
]


@pytest.mark.parametrize(("text", "message"), HOSTILE_FILES)
def test_hostile_files_are_refused_with_a_clear_message(
    tmp_path: Path, text: str | bytes, message: str
) -> None:
    with pytest.raises(PolicyError, match=re.escape(message)) as raised:
        _load(tmp_path, text)
    assert str(tmp_path / "policy.yaml") in str(raised.value)


def test_a_missing_file_or_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="No such file"):
        load_policy(tmp_path / "absent.yaml", DEFAULT_RULES)
    with pytest.raises(PolicyError, match="Is a directory"):
        load_policy(tmp_path, DEFAULT_RULES)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("(role:a)", "RoleIs"),
        ("project_id:%(project_id)s)", None),
        ("role:a\nor\trole:b", "AnyOf"),
    ],
)
def test_whitespace_and_parentheses_split_like_oslo(text: str, kind: str | None) -> None:
    if kind is None:
        with pytest.raises(PolicyError, match="unexpected"):
            parse(text)
    else:
        assert type(parse(text)).__name__ == kind
