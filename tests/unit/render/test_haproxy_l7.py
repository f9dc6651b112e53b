"""L7 rendering: hostile rule values, keys and redirect targets either are refused or stay one
literal word of the line they belong to; actions follow position order.

`words` reads a line as HAProxy 2.6's parser does for what the renderer may write (strong
quotes, `\\'` outside them, spaces between words) and fails on anything else, so a value that
comes back as the same word cannot have changed the structure of the config.
"""

from dataclasses import replace
from typing import Any

import pytest

from steelyard.model.l7 import L7CompareType, L7PolicyAction, L7RuleType
from steelyard.model.spec import L7PolicySpec, L7RuleSpec, ListenerSpec, LoadBalancerSpec
from steelyard.render import validate as v
from steelyard.render.errors import RenderError
from steelyard.render.haproxy import render_haproxy
from tests.unit.render.fixtures import HTTP_POOL, full_settings, full_spec

POLICY = "e7000000-0000-4000-8000-000000000001"
RULE = "f7000000-0000-4000-8000-000000000001"
HOSTILE: list[Any] = [
    "",
    " ",
    "a b",
    "\n",
    "x\nfrontend evil",
    "x\r\nbackend evil",
    "\x00",
    "\t",
    "\u2028",
    "é",
    "#",
    "a#b",
    "'",
    "it's",
    "''",
    "\\'",
    "\\",
    "a\\",
    '"',
    '"quoted words"',
    "$",
    "${HOME}",
    "{",
    "}",
    "{x}",
    "%",
    "%[req.hdr(host)]",
    "%{+Q}o",
    "-f",
    "-f /etc/passwd",
    "--",
    "-m reg",
    ")",
    "a,b",
    "if TRUE",
    "x" * 255,
    "x" * 256,
    "x" * 5000,
    "(a",
    "\\u0041",
    "(?a)x",
    "[",
    12,
    None,
    b"bytes",
]


def words(line: str) -> list[str]:
    found: list[str] = []
    current, quoted, escaped, pending = "", False, False, False
    for char in line:
        if escaped:
            assert char == "'", f"escape of {char!r} in {line!r}"
            current, escaped, pending = current + char, False, True
        elif quoted:
            if char == "'":
                quoted = False
            else:
                current += char
        elif char == "'":
            quoted, pending = True, True
        elif char == "\\":
            escaped = True
        elif char == " ":
            if pending:
                found.append(current)
            current, pending = "", False
        else:
            assert char not in '#$"{}\t\r\n\x00', f"{char!r} outside quotes in {line!r}"
            current, pending = current + char, True
    assert not quoted and not escaped, f"unterminated quote in {line!r}"
    if pending:
        found.append(current)
    return found


def with_policies(*policies: L7PolicySpec) -> LoadBalancerSpec:
    spec = full_spec()
    http = next(li for li in spec.listeners if li.protocol.value == "HTTP")
    listeners = tuple(
        replace(li, l7policies=policies) if li is http else li for li in spec.listeners
    )
    return replace(spec, listeners=listeners)


def rule(**fields: Any) -> L7RuleSpec:
    base: dict[str, Any] = {
        "id": RULE,
        "type": L7RuleType.PATH,
        "compare_type": L7CompareType.EQUAL_TO,
        "value": "/x",
    }
    return L7RuleSpec(**{**base, **fields})


def policy(*rules: L7RuleSpec, **fields: Any) -> L7PolicySpec:
    base: dict[str, Any] = {"id": POLICY, "action": L7PolicyAction.REJECT, "position": 1}
    return L7PolicySpec(**{**base, **fields}, rules=rules or (rule(),))


def frontend(spec: LoadBalancerSpec) -> list[str]:
    text = render_haproxy(spec, full_settings())
    for line in text.splitlines()[1:]:  # after the "# haproxy.cfg for ..." header
        words(line)  # every line of the whole config reads back
    http = next(li for li in spec.listeners if li.protocol.value == "HTTP")
    lines = text.split(f"frontend {http.id}\n", 1)[1].split("\n\n", 1)[0]
    return [line.strip() for line in lines.splitlines()]


def acl_word(spec: LoadBalancerSpec) -> str:
    """The last word of the rule's acl line: the value as HAProxy reads it."""
    acl = next(line for line in frontend(spec) if line.startswith(f"acl {RULE} "))
    return words(acl)[-1]


KINDS = [
    (kind, compare, "K-1" if kind in (L7RuleType.HEADER, L7RuleType.COOKIE) else None)
    for kind in (L7RuleType.HOST_NAME, L7RuleType.PATH, L7RuleType.HEADER, L7RuleType.COOKIE)
    for compare in L7CompareType
]


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
@pytest.mark.parametrize(("kind", "compare", "key"), KINDS, ids=str)
def test_hostile_values_are_refused_or_one_literal_word(
    value: Any, kind: L7RuleType, compare: L7CompareType, key: str | None
) -> None:
    spec = with_policies(policy(rule(type=kind, compare_type=compare, key=key, value=value)))
    try:
        word = acl_word(spec)
    except RenderError:
        return
    assert word == value
    assert isinstance(value, str) and 0 < len(value) <= 255 and value.isprintable()


@pytest.mark.parametrize("key", HOSTILE, ids=repr)
@pytest.mark.parametrize("kind", [L7RuleType.HEADER, L7RuleType.COOKIE, L7RuleType.SSL_DN_FIELD])
def test_hostile_keys_are_refused_or_a_plain_token(key: Any, kind: L7RuleType) -> None:
    spec = with_policies(policy(rule(type=kind, key=key, value="v")))
    try:
        acl = next(line for line in frontend(spec) if line.startswith(f"acl {RULE} "))
    except RenderError:
        return
    fetch = words(acl)[2]
    assert fetch.endswith(f"({key})") and isinstance(key, str)
    assert all(char.isalnum() or char in "!&*+-.^_`|~" for char in key)


@pytest.mark.parametrize("target", [*HOSTILE, "http://a/%20'#$", "https://a.example/x?y=%41"])
@pytest.mark.parametrize("action", [L7PolicyAction.REDIRECT_TO_URL, L7PolicyAction.REDIRECT_PREFIX])
def test_hostile_redirects_are_refused_or_literal(target: Any, action: L7PolicyAction) -> None:
    field = "redirect_url" if action is L7PolicyAction.REDIRECT_TO_URL else "redirect_prefix"
    spec = with_policies(policy(action=action, redirect_http_code=302, **{field: target}))
    try:
        line = next(line for line in frontend(spec) if line.startswith("http-request redirect"))
    except RenderError:
        return
    location = words(line)[3]
    assert location.replace("%%", "%") == target  # log-format: %% is a literal %
    assert "%" not in location.replace("%%", "")


def test_a_value_cannot_become_a_flag_or_a_file() -> None:
    acl = next(
        line
        for line in frontend(with_policies(policy(rule(value="-f"))))
        if line.startswith("acl ")
    )
    assert words(acl)[-2:] == ["--", "-f"]


def test_actions_follow_positions_and_yield_to_an_earlier_pool() -> None:
    pool_rule, deny_rule, url_rule = (f"f7000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
    spec = with_policies(
        policy(
            rule(id=url_rule),
            id="e7000000-0000-4000-8000-000000000003",
            position=3,
            action=L7PolicyAction.REDIRECT_TO_URL,
            redirect_url="http://a.example/",
            redirect_http_code=307,
        ),
        policy(
            rule(id=deny_rule, invert=True), id="e7000000-0000-4000-8000-000000000002", position=2
        ),
        policy(
            rule(id=pool_rule),
            position=1,
            action=L7PolicyAction.REDIRECT_TO_POOL,
            redirect_pool_id=HTTP_POOL,
        ),
    )
    actions = [line for line in frontend(spec) if line.startswith(("http-request", "use_"))]
    assert actions[-4:] == [
        f"http-request set-var(txn.sy_l7_pool) str({HTTP_POOL}) if {pool_rule}",
        f"http-request deny if !sy_l7_routed !{deny_rule}",
        f"http-request redirect location 'http://a.example/' code 307 if !sy_l7_routed {url_rule}",
        "use_backend %[var(txn.sy_l7_pool)] if sy_l7_routed",
    ]


def test_policies_that_cannot_match_are_left_out() -> None:
    disabled_pool = replace(full_spec().pools[0], admin_state_up=False)
    spec = with_policies(
        policy(admin_state_up=False),  # rule f7...01
        policy(
            rule(id="f7000000-0000-4000-8000-000000000002", admin_state_up=False),
            id="e7000000-0000-4000-8000-000000000002",
        ),
        policy(
            rule(id="f7000000-0000-4000-8000-000000000003"),
            id="e7000000-0000-4000-8000-000000000003",
            action=L7PolicyAction.REDIRECT_TO_POOL,
            redirect_pool_id=HTTP_POOL,
        ),
    )
    spec = replace(spec, pools=(disabled_pool, *spec.pools[1:]))
    assert not any("acl" in line or "sy_l7" in line for line in frontend(spec))


def test_l7_needs_an_http_listener_and_known_pools() -> None:
    spec = full_spec()
    tcp = next(li for li in spec.listeners if li.protocol.value == "TCP")
    on_tcp = replace(spec, listeners=(replace(tcp, l7policies=(policy(),)),))
    with pytest.raises(RenderError, match="need an HTTP listener"):
        render_haproxy(on_tcp, full_settings())
    missing = policy(
        action=L7PolicyAction.REDIRECT_TO_POOL,
        redirect_pool_id="b0000000-0000-4000-8000-00000000000f",
    )
    with pytest.raises(RenderError, match="not in the spec"):
        render_haproxy(with_policies(missing), full_settings())
    with pytest.raises(RenderError, match="sequence"):
        render_haproxy(with_policies_raw("nope"), full_settings())


def with_policies_raw(value: Any) -> LoadBalancerSpec:
    spec = full_spec()
    listeners: list[ListenerSpec] = list(spec.listeners)
    listeners[0] = replace(listeners[0], l7policies=value)
    return replace(spec, listeners=tuple(listeners))


@pytest.mark.parametrize(
    ("text", "quoted"),
    [("a", "'a'"), ("it's", "'it'\\''s'"), ('#$ {}\\"', "'#$ {}\\\"'"), ("", "''")],
)
def test_quoted_is_one_strong_quoted_word(text: str, quoted: str) -> None:
    assert v.quoted(text, "f") == quoted
    assert words(quoted) == [text]
    assert v.config_line(f"acl x path -m str -- {quoted}")


@pytest.mark.parametrize("text", ["a\nb", "\t", "é", "x" * 1025, 5])
def test_quoted_refuses_what_no_quote_can_hold(text: Any) -> None:
    with pytest.raises(RenderError):
        v.quoted(text, "f")


@pytest.mark.parametrize(
    "line", ["a 'b", "a #b", "a $b", "a \\b", 'a "b"', "a 'b\nc'", "a {b}", "a 'b'\\"]
)
def test_config_line_refuses_what_haproxy_would_read_specially(line: str) -> None:
    with pytest.raises(RenderError):
        v.config_line(line)
