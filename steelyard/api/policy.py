"""Access rules in oslo.policy's language: parse check strings, overlay a YAML policy file on
the defaults, and decide whether a caller may do something.

What is supported of oslo.policy (anything else is refused when the file is loaded):

    check      := "@" | "!" | "rule:NAME" | "role:NAME" | "project_id:VALUE" | "is_admin:True|False"
    expression := check | "(" expression ")" | "not" expression
                | expression "and" expression | expression "or" expression

`not` binds tighter than `and`, `and` tighter than `or`; the keywords are case-insensitive; an
empty string allows everyone, as in oslo.policy. VALUE is a literal project ID or
`%(project_id)s`, the project of the object acted on. Roles compare case-insensitively.

Unlike oslo.policy, which logs and denies, a malformed policy (syntax, a reference to an
undefined rule, a cycle, an unknown API rule name) is an error when it is loaded, so a typo
stops the server at start instead of silently locking users out or letting them in.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

MAX_DEPTH = 50  # nested parentheses and chains of rule references
MAX_FILE_BYTES = 1024 * 1024
TARGET_PROJECT = "%(project_id)s"
# Rule names that Steelyard enforces: an unknown one in a policy file is a typo.
API_RULE_PREFIXES = ("os_load-balancer_api:", "steelyard:")


class PolicyError(ValueError):
    """A policy that cannot be used; the message names the rule and what is wrong."""


@dataclass(frozen=True)
class Credentials:
    """Who is asking: roles as given (implied roles already added) and the project."""

    project_id: str | None
    roles: frozenset[str]
    is_admin: bool = False


# --- the parsed form ------------------------------------------------------------------------


@dataclass(frozen=True)
class Constant:
    value: bool


@dataclass(frozen=True)
class RoleIs:
    role: str  # lower case


@dataclass(frozen=True)
class RuleRef:
    name: str


@dataclass(frozen=True)
class ProjectIs:
    project: str | None  # None: the target's project (`%(project_id)s`)


@dataclass(frozen=True)
class AdminIs:
    value: bool


@dataclass(frozen=True)
class Not:
    operand: "Check"


@dataclass(frozen=True)
class AllOf:
    operands: tuple["Check", ...]


@dataclass(frozen=True)
class AnyOf:
    operands: tuple["Check", ...]


Check = Constant | RoleIs | RuleRef | ProjectIs | AdminIs | Not | AllOf | AnyOf
ALWAYS = Constant(True)
_NAME = re.compile(r"^[A-Za-z0-9_.:@-]+$")  # rule and role names; project IDs


def _tokens(text: str) -> list[str]:
    """oslo.policy's tokens: words split on whitespace, with leading "(" and trailing ")"
    split off as tokens of their own (so `%(project_id)s` stays whole)."""
    tokens: list[str] = []
    for word in text.split():
        stripped = word.lstrip("(")
        tokens += ["("] * (len(word) - len(stripped))
        core = stripped.rstrip(")")
        closing = len(stripped) - len(core)
        if core:
            tokens.append(core)
        tokens += [")"] * closing
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.position = 0

    def parse(self) -> Check:
        if not self.tokens:
            return ALWAYS
        check = self._any(0)
        if self.position != len(self.tokens):
            raise PolicyError(f"unexpected {self.tokens[self.position]!r}")
        return check

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token is not None and token.lower() == word:
            self.position += 1
            return True
        return False

    def _any(self, depth: int) -> Check:
        operands = [self._all(depth)]
        while self._keyword("or"):
            operands.append(self._all(depth))
        return operands[0] if len(operands) == 1 else AnyOf(tuple(operands))

    def _all(self, depth: int) -> Check:
        operands = [self._unary(depth)]
        while self._keyword("and"):
            operands.append(self._unary(depth))
        return operands[0] if len(operands) == 1 else AllOf(tuple(operands))

    def _unary(self, depth: int) -> Check:
        if depth > MAX_DEPTH:
            raise PolicyError(f"nested more than {MAX_DEPTH} levels deep")
        if self._keyword("not"):
            return Not(self._unary(depth + 1))
        token = self._peek()
        if token is None:
            raise PolicyError("ends where a check was expected")
        self.position += 1
        if token == "(":
            inner = self._any(depth + 1)
            if self._peek() != ")":
                raise PolicyError("a '(' is not closed")
            self.position += 1
            return inner
        if token == ")" or token.lower() in ("and", "or"):
            raise PolicyError(f"unexpected {token!r} where a check was expected")
        return _check(token)


def _check(token: str) -> Check:
    if token == "@":
        return Constant(True)
    if token == "!":
        return Constant(False)
    kind, sep, value = token.partition(":")
    if not sep or not value:
        raise PolicyError(f"{token!r} is not a check (expected KIND:VALUE, '@' or '!')")
    if kind == "rule" and _NAME.match(value):
        return RuleRef(value)
    if kind == "role" and _NAME.match(value):
        return RoleIs(value.lower())
    if kind == "project_id" and value == TARGET_PROJECT:
        return ProjectIs(None)
    if kind == "project_id" and _NAME.match(value):
        return ProjectIs(value)
    if kind == "is_admin" and value in ("True", "False"):
        return AdminIs(value == "True")
    raise PolicyError(
        f"unsupported check {token!r} (supported: rule:NAME, role:NAME, "
        f"project_id:{TARGET_PROJECT} or a project ID, is_admin:True|False, @, !)"
    )


def parse(text: str) -> Check:
    """One check string; PolicyError says what is wrong with it."""
    return _Parser(text).parse()


# --- a set of rules -------------------------------------------------------------------------


def _references(check: Check) -> list[str]:
    match check:
        case RuleRef(name):
            return [name]
        case Not(operand):
            return _references(operand)
        case AllOf(operands) | AnyOf(operands):
            return [name for operand in operands for name in _references(operand)]
        case _:
            return []


@dataclass(frozen=True)
class Policy:
    """Named rules, every reference resolved, no cycles (checked by `compile_rules`)."""

    rules: Mapping[str, Check]

    def allows(self, name: str, creds: Credentials, target_project: str | None) -> bool:
        """Whether rule `name` lets `creds` act on an object of `target_project`."""
        return self._evaluate(self.rules[name], creds, target_project)

    def _evaluate(self, check: Check, creds: Credentials, target: str | None) -> bool:
        match check:
            case Constant(value):
                return value
            case RoleIs(role):
                return role in creds.roles
            case RuleRef(name):
                return self._evaluate(self.rules[name], creds, target)
            case ProjectIs(project):
                wanted = target if project is None else project
                return wanted is not None and creds.project_id == wanted
            case AdminIs(value):
                return creds.is_admin == value
            case Not(operand):
                return not self._evaluate(operand, creds, target)
            case AllOf(operands):
                return all(self._evaluate(op, creds, target) for op in operands)
            case AnyOf(operands):
                return any(self._evaluate(op, creds, target) for op in operands)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # The rule also allows acting on other projects' objects (admins, global observers):
    # their objects are visible. Otherwise only the caller's own project exists for it.
    every_project: bool


ANOTHER_PROJECT = "\x00another project"  # never a project ID (see PROJECT_ID_PATTERN)
GLOBAL_SUFFIX = "-global"  # Octavia's get_all-global: lists across projects


def decide(policy: Policy, name: str, creds: Credentials) -> Decision:
    """Rule `name` for a caller: may it act at all (on its own project's objects), and on
    every project's? Lists use `<name>-global` for the second question when it is defined
    (Octavia's `get_all-global`); other actions ask the rule itself about another project."""
    global_name = name + GLOBAL_SUFFIX
    if global_name in policy.rules:
        every = policy.allows(global_name, creds, creds.project_id)
        return Decision(every or policy.allows(name, creds, creds.project_id), every)
    if not policy.allows(name, creds, creds.project_id):
        return Decision(False, False)
    return Decision(True, policy.allows(name, creds, ANOTHER_PROJECT))


def credentials(policy: Policy, project_id: str | None, roles: frozenset[str]) -> Credentials:
    """Credentials with `is_admin` from the `context_is_admin` rule, as Octavia does."""
    plain = Credentials(project_id, frozenset(role.lower() for role in roles))
    if "context_is_admin" not in policy.rules:
        return plain
    return Credentials(
        plain.project_id, plain.roles, policy.allows("context_is_admin", plain, None)
    )


def compile_rules(texts: Mapping[str, str]) -> Policy:
    """Parse every rule and check the references: all defined, no cycles, chains no deeper
    than MAX_DEPTH (evaluation recurses along them)."""
    rules: dict[str, Check] = {}
    for name, text in texts.items():
        try:
            rules[name] = parse(text)
        except PolicyError as exc:
            raise PolicyError(f"rule {name!r}: {exc}") from None
    for name, check in rules.items():
        for ref in _references(check):
            if ref not in rules:
                raise PolicyError(f"rule {name!r} refers to undefined rule {ref!r}")
    depth: dict[str, int] = {}

    def measure(name: str, path: tuple[str, ...]) -> int:
        if name in path:
            cycle = " -> ".join((*path[path.index(name) :], name))
            raise PolicyError(f"rules refer to each other in a cycle: {cycle}")
        if name not in depth:
            refs = _references(rules[name])
            depth[name] = 1 + max((measure(ref, (*path, name)) for ref in refs), default=0)
            if depth[name] > MAX_DEPTH:
                raise PolicyError(f"rule {name!r}: rules refer more than {MAX_DEPTH} deep")
        return depth[name]

    for name in rules:
        measure(name, ())
    return Policy(rules)


def parse_policy_file(text: str, defaults: Mapping[str, str]) -> dict[str, str]:
    """The rules of a YAML policy file (`name: "check string"`) laid over `defaults`."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"not valid YAML: {exc}") from None
    if loaded is None:
        return dict(defaults)
    if not isinstance(loaded, dict):
        raise PolicyError("expected a mapping of rule names to check strings")
    overrides: dict[str, str] = {}
    for name, value in loaded.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise PolicyError(f"invalid rule name {name!r}")
        if not isinstance(value, str):
            raise PolicyError(f"rule {name!r}: the check must be a string, not {value!r}")
        if name.startswith(API_RULE_PREFIXES) and name not in defaults:
            raise PolicyError(f"unknown rule {name!r} (no endpoint uses it; a typo?)")
        overrides[name] = value
    return {**defaults, **overrides}


def load_policy(path: Path | None, defaults: Mapping[str, str]) -> Policy:
    """The defaults, overridden by the YAML file at `path` if one is given."""
    if path is None:
        return compile_rules(defaults)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise PolicyError(f"{path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise PolicyError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        return compile_rules(parse_policy_file(raw.decode("utf-8"), defaults))
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: not UTF-8 text") from None
    except PolicyError as exc:
        raise PolicyError(f"{path}: {exc}") from None
