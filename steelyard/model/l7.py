"""L7 policy and rule request and response bodies (Octavia v2 `l7policy` and `rule`), and the
checks every rule value passes before it may reach haproxy.cfg.

Octavia's rules first (which compare types each rule type takes, which characters a value,
key or cookie may hold, redirect URLs with an http(s) scheme), then Steelyard's own, because
these values are written into the configuration:
- keys are HTTP tokens without `#`, `$`, `%`, `'` and `,` (HAProxy reads them as comment,
  variable, format, quote and argument separator inside `req.hdr(...)`);
- values are printable ASCII, never a control character;
- regexes must compile with Python's `re` without a warning, which is close to the PCRE2 that
  HAProxy uses, and may not use what HAProxy refuses although Python takes it (`\\u`, `\\U`,
  `\\N{...}`, `(?a)`, `(?u)`, numbered back-references `\\1` and conditions `(?(1)...)`:
  HAProxy compiles ACL regexes without numbered captures). Remaining differences: Python
  refuses some valid PCRE (`\\p{L}`, `\\K`, `\\e`, recursion, POSIX classes `[[:alpha:]]`),
  refused here too; a few escapes mean slightly different things (`\\Z` also matches before a
  final newline in PCRE, `\\d` and `\\w` are ASCII-only there).
"""

import re
import warnings
from enum import StrEnum
from typing import Annotated, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from steelyard.model.enums import OperatingStatus, ProvisioningStatus
from steelyard.model.fields import (
    MAX_INT32,
    Body,
    Decimal,
    DescribedCreate,
    DescribedOut,
    DescribedUpdate,
    IdRef,
    Out,
    ProjectId,
    Tags,
    Text,
    Timestamp,
    Uuid,
)
from steelyard.model.pool import PoolSingleCreate


class L7PolicyAction(StrEnum):
    REJECT = "REJECT"
    REDIRECT_TO_URL = "REDIRECT_TO_URL"
    REDIRECT_TO_POOL = "REDIRECT_TO_POOL"
    REDIRECT_PREFIX = "REDIRECT_PREFIX"


class L7RuleType(StrEnum):
    HOST_NAME = "HOST_NAME"
    PATH = "PATH"
    FILE_TYPE = "FILE_TYPE"
    HEADER = "HEADER"
    COOKIE = "COOKIE"
    SSL_CONN_HAS_CERT = "SSL_CONN_HAS_CERT"
    SSL_VERIFY_RESULT = "SSL_VERIFY_RESULT"
    SSL_DN_FIELD = "SSL_DN_FIELD"


class L7CompareType(StrEnum):
    REGEX = "REGEX"
    STARTS_WITH = "STARTS_WITH"
    ENDS_WITH = "ENDS_WITH"
    CONTAINS = "CONTAINS"
    EQUAL_TO = "EQUAL_TO"


MIN_POSITION = 1
MAX_POSITION = MAX_INT32  # Octavia's default position: "at the end"
MAX_RULES_PER_POLICY = 50  # Octavia's limit; HAProxy takes at most 64 words per line
MAX_POLICIES = 100  # in one fully populated listener
REDIRECT_CODES = (301, 302, 303, 307, 308)
DEFAULT_REDIRECT_CODE = 302
MAX_VALUE = 255  # Octavia's limit for key, value, redirect_url and redirect_prefix
SSL_TYPES = (L7RuleType.SSL_CONN_HAS_CERT, L7RuleType.SSL_VERIFY_RESULT, L7RuleType.SSL_DN_FIELD)
# Listener protocols whose frontends see client certificates (TLS termination).
SSL_LISTENER_PROTOCOLS = ("TERMINATED_HTTPS",)
REDIRECTS = (L7PolicyAction.REDIRECT_TO_URL, L7PolicyAction.REDIRECT_PREFIX)

_ALL_COMPARES = frozenset(L7CompareType)
_ALLOWED_COMPARES = {
    L7RuleType.HOST_NAME: _ALL_COMPARES,
    L7RuleType.PATH: _ALL_COMPARES,
    L7RuleType.HEADER: _ALL_COMPARES,
    L7RuleType.COOKIE: _ALL_COMPARES,
    L7RuleType.SSL_DN_FIELD: _ALL_COMPARES,
    L7RuleType.FILE_TYPE: frozenset({L7CompareType.REGEX, L7CompareType.EQUAL_TO}),
    L7RuleType.SSL_CONN_HAS_CERT: frozenset({L7CompareType.EQUAL_TO}),
    L7RuleType.SSL_VERIFY_RESULT: frozenset({L7CompareType.EQUAL_TO}),
}
# RFC 7230 token, less `#`, `$`, `%`, `'` (see the module docstring). Octavia's pattern also
# admits `,` by accident (its `+-.` is a range); here it is refused.
_KEY = re.compile(r"[A-Za-z0-9!&*+\-.^_`|~]+")
# Octavia's value classes: visible ASCII for header-like values (or a double-quoted string,
# which may also hold spaces), and RFC 6265 cookie-octets for cookie values (`+-.` is Octavia's
# range again, so `,` is in).
_HEADER_VALUE = re.compile(r"[\x21-\x7e]+|\"[\x20-\x7e]*\"")
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9!#$%&'()*+,\-./:<=>?@\[\]^_`{|}~]+")
_DN_FIELD = re.compile(r"[a-zA-Z][A-Za-z0-9-]*")
_PRINTABLE = re.compile(r"[\x20-\x7e]+")
# Python accepts these, HAProxy refuses them: the \u, \U and \N{name} escapes and the a, u,
# L flags (PCRE2 has none of them), and numbered back-references and conditions (HAProxy
# compiles ACL regexes without numbered captures: `(a)\1` is "reference to non-existent
# subpattern"; named groups still work). An even number of backslashes before the letter is an
# escaped backslash, not an escape.
_HAPROXY_REFUSES = re.compile(r"(?<!\\)(?:\\\\)*(?:\\[uUN1-9]|\(\?[a-zA-Z-]*[auL]|\(\?\(<?[0-9])")
# RFC 3986 URI characters; `%` only before two hex digits.
_URI = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+")


def check_regex(value: str) -> str:
    if not _PRINTABLE.fullmatch(value):
        raise ValueError("Invalid characters in regular expression")
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"Unable to parse regular expression: {exc}") from None
    if warned:  # e.g. "possible nested set": Python and PCRE2 would read it differently
        raise ValueError(f"Unable to parse regular expression: {warned[0].message}")
    if _HAPROXY_REFUSES.search(value):
        raise ValueError(
            "Unable to parse regular expression: \\u, \\U, \\N, the a, u and L flags and "
            "numbered back-references are not supported by HAProxy"
        )
    return value


def _check_ssl(rule_type: L7RuleType, key: str | None, value: str) -> None:
    """Octavia's rules for the client certificate types."""
    if rule_type in (L7RuleType.SSL_CONN_HAS_CERT, L7RuleType.SSL_VERIFY_RESULT) and key:
        raise ValueError(f'Invalid L7 Rule: L7rule type {rule_type} does not use the "key" field.')
    if rule_type == L7RuleType.SSL_CONN_HAS_CERT and value.lower() != "true":
        raise ValueError(f"Invalid L7 Rule: L7rule value {value} is not a boolean True string.")
    if rule_type == L7RuleType.SSL_VERIFY_RESULT and not re.fullmatch(r"[0-9]{1,10}", value):
        raise ValueError(
            f"Invalid L7 Rule: L7rule type {rule_type} needs a int value, which is >= 0"
        )
    if rule_type == L7RuleType.SSL_DN_FIELD:
        if not key:
            raise ValueError(
                f"Invalid L7 Rule: L7rule type {rule_type} needs to specify a key and a value."
            )
        if not _DN_FIELD.fullmatch(key):
            raise ValueError("Invalid L7 Rule: Invalid L7rule distinguished name field.")


def check_rule(rule_type: L7RuleType, compare: L7CompareType, key: str | None, value: str) -> None:
    """Raise ValueError (Octavia's wording) when a rule is not valid as a whole."""
    if not value:
        raise ValueError("L7 rule type requires a value")
    if compare not in _ALLOWED_COMPARES[rule_type]:
        if rule_type in SSL_TYPES:
            raise ValueError(
                f"Invalid L7 Rule: L7rule type {rule_type} only supports the "
                f"{L7CompareType.EQUAL_TO} compare type."
            )
        raise ValueError("Invalid L7 Rule: invalid comparison type for rule type")
    if rule_type in SSL_TYPES:
        _check_ssl(rule_type, key, value)
    elif rule_type in (L7RuleType.HEADER, L7RuleType.COOKIE):
        if not key:
            raise ValueError("Invalid L7 Rule: L7 rule type requires a key")
        if not _KEY.fullmatch(key):
            raise ValueError("Invalid characters in key")
    if compare == L7CompareType.REGEX:
        check_regex(value)
        return
    pattern = _COOKIE_VALUE if rule_type == L7RuleType.COOKIE else _HEADER_VALUE
    if not pattern.fullmatch(value):
        what = {L7RuleType.COOKIE: "cookie value", L7RuleType.HEADER: "header value"}
        raise ValueError(f"Invalid characters in {what.get(rule_type, 'comparison value')}")


def check_url(value: str) -> str:
    """An absolute http or https URL of RFC 3986 characters (Octavia: "a valid URL string")."""
    parts = urlsplit(value) if _URI.fullmatch(value) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("Value must be a valid URL string")
    return value


def _redirect_code(code: int) -> int:
    if code not in REDIRECT_CODES:
        raise ValueError(f"Value should be one of: {', '.join(map(str, REDIRECT_CODES))}")
    return code


Url = Annotated[str, StringConstraints(max_length=MAX_VALUE), AfterValidator(check_url)]
Position = Annotated[int, Decimal, Field(ge=MIN_POSITION, le=MAX_POSITION)]
RedirectCode = Annotated[int, Decimal, AfterValidator(_redirect_code)]
P = TypeVar("P")


def settle(
    action: L7PolicyAction, pool: P | None, url: str | None, prefix: str | None, code: int | None
) -> tuple[P | None, str | None, str | None, int | None]:
    """(pool, url, prefix, code) as stored for `action`: what the action needs must be there
    (Octavia's wording), what it does not use is dropped, redirects default to 302."""
    if action == L7PolicyAction.REDIRECT_TO_POOL:
        if pool is None:
            raise ValueError(
                "Invalid L7 Policy arguments: redirect_pool_id or redirect_pool must not be None"
            )
        return pool, None, None, None
    if action == L7PolicyAction.REDIRECT_TO_URL:
        if not url:
            raise ValueError("Invalid L7 Policy arguments: redirect_url must not be None")
        return None, url, None, code or DEFAULT_REDIRECT_CODE
    if action == L7PolicyAction.REDIRECT_PREFIX:
        if not prefix:
            raise ValueError("Invalid L7 Policy arguments: redirect_prefix must not be None")
        return None, None, prefix, code or DEFAULT_REDIRECT_CODE
    return None, None, None, None


CONFLICTING_REDIRECTS = (
    "Invalid L7 Policy arguments: Cannot specify redirect_pool_id and redirect_url or "
    "redirect_prefix at the same time"
)


class RuleSingleCreate(Body):
    """A rule as created alone or inside a policy (Octavia's rules have no name)."""

    admin_state_up: bool = True
    tags: Tags = Field(default_factory=list)
    type: L7RuleType
    compare_type: L7CompareType
    key: Text | None = None
    value: Text
    invert: bool = False

    @model_validator(mode="after")
    def _valid(self) -> Self:
        try:
            check_rule(self.type, self.compare_type, self.key, self.value)
        except ValueError as exc:
            raise ValueError(f"Error parsing L7Rule: {exc}") from None
        return self


class RuleCreate(RuleSingleCreate):
    project_id: ProjectId | None = None


class RuleCreateRoot(Body):
    rule: RuleCreate


class RuleUpdate(Body):
    """Merged with the stored rule, then checked as a whole (as Octavia does)."""

    admin_state_up: bool | None = None
    tags: Tags | None = None
    type: L7RuleType | None = None
    compare_type: L7CompareType | None = None
    key: Text | None = None
    value: Text | None = None
    invert: bool | None = None


class RuleUpdateRoot(Body):
    rule: RuleUpdate


class RuleOut(Out):
    """Octavia's rule: no name, no description."""

    id: str
    provisioning_status: ProvisioningStatus
    operating_status: OperatingStatus
    admin_state_up: bool
    project_id: str
    created_at: Timestamp
    updated_at: Timestamp | None
    tags: list[str]
    type: L7RuleType
    compare_type: L7CompareType
    key: str | None
    value: str
    invert: bool


class _PolicyCreate(DescribedCreate):
    action: L7PolicyAction
    position: Position = MAX_POSITION
    redirect_url: Url | None = None
    redirect_prefix: Url | None = None
    redirect_http_code: RedirectCode | None = None
    rules: Annotated[list[RuleSingleCreate], Field(max_length=MAX_RULES_PER_POLICY)] = Field(
        default_factory=list
    )

    def _pool_given(self) -> bool:
        raise NotImplementedError

    @model_validator(mode="after")
    def _settled(self) -> Self:
        pool = True if self._pool_given() else None
        _, self.redirect_url, self.redirect_prefix, self.redirect_http_code = settle(
            self.action, pool, self.redirect_url, self.redirect_prefix, self.redirect_http_code
        )
        return self


class PolicySingleCreate(_PolicyCreate):
    """A policy inside a fully populated create: `redirect_pool` names a pool defined in the
    same request (or defines one)."""

    redirect_pool: PoolSingleCreate | None = None

    def _pool_given(self) -> bool:
        return self.redirect_pool is not None

    @model_validator(mode="after")
    def _pool_for_pool_action(self) -> Self:
        if self.action != L7PolicyAction.REDIRECT_TO_POOL:
            self.redirect_pool = None
        return self


class PolicyCreate(_PolicyCreate):
    listener_id: Uuid
    redirect_pool_id: Uuid | None = None
    project_id: ProjectId | None = None

    def _pool_given(self) -> bool:
        return self.redirect_pool_id is not None

    @model_validator(mode="after")
    def _pool_for_pool_action(self) -> Self:
        if self.action != L7PolicyAction.REDIRECT_TO_POOL:
            self.redirect_pool_id = None
        return self


class PolicyCreateRoot(Body):
    l7policy: PolicyCreate


class PolicyUpdate(DescribedUpdate):
    """Octavia's PUT: a redirect_pool_id, redirect_url or redirect_prefix without an action
    switches the action to the one that uses it."""

    action: L7PolicyAction | None = None
    position: Position | None = None
    redirect_pool_id: Uuid | None = None
    redirect_url: Url | None = None
    redirect_prefix: Url | None = None
    redirect_http_code: RedirectCode | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if self.redirect_pool_id and (self.redirect_url or self.redirect_prefix):
            raise ValueError(CONFLICTING_REDIRECTS)
        return self

    def action_after(self, stored: L7PolicyAction) -> L7PolicyAction:
        if self.action is not None:
            return self.action
        if self.redirect_pool_id:
            return L7PolicyAction.REDIRECT_TO_POOL
        if self.redirect_url:
            return L7PolicyAction.REDIRECT_TO_URL
        if self.redirect_prefix:
            return L7PolicyAction.REDIRECT_PREFIX
        return stored


class PolicyUpdateRoot(Body):
    l7policy: PolicyUpdate


class _PolicyBase(DescribedOut):
    action: L7PolicyAction
    listener_id: str
    redirect_pool_id: str | None
    redirect_url: str | None
    redirect_prefix: str | None
    redirect_http_code: int | None
    position: int


class PolicyOut(_PolicyBase):
    rules: list[IdRef]


class PolicyFull(_PolicyBase):
    """As embedded in a fully populated load balancer: rules expanded."""

    rules: list[RuleOut]
