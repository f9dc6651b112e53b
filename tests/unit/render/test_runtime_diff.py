"""runtime_commands: which config changes the runtime API can make instead of a reload."""

import pytest

from steelyard.render.runtime_diff import parse_server_line, runtime_commands, server_lines

POOL = "b0000000-0000-4000-8000-000000000001"
M1 = "c0000000-0000-4000-8000-000000000001"
M2 = "c0000000-0000-4000-8000-000000000002"

CHECK = " check inter 5s fall 3 rise 2"


def config(m1: str = "weight 1", m2: str = "weight 1" + CHECK, extra_backend: str = "") -> str:
    return f"""# haproxy.cfg for load balancer x, rendered by steelyard; do not edit
global
    maxconn 5000
    stats socket /run/sy/a/stats.sock mode 600 level admin expose-fd listeners

defaults
    mode tcp
    timeout connect 5000ms

frontend a0000000-0000-4000-8000-000000000001
    bind 198.18.0.10:80
    default_backend {POOL}

backend {POOL}
    balance roundrobin{extra_backend}
    server {M1} 198.18.1.1:80 {m1}
    server {M2} 198.18.1.2:80 {m2}
"""


def test_identical_configs_need_nothing() -> None:
    assert runtime_commands(config(), config()) == []


def test_comments_blank_lines_and_indentation_are_not_changes() -> None:
    old = config()
    new = "# generation 7\n\n" + old.replace("    server", "\tserver").replace("\n\n", "\n")
    assert runtime_commands(old, new) == []


def test_weight_change() -> None:
    assert runtime_commands(config(), config(m1="weight 10")) == [
        f"set server {POOL}/{M1} weight 10"
    ]


def test_weight_zero_drains() -> None:
    old = config(m2="weight 5" + CHECK)
    new = config(m2="weight 0" + CHECK)
    assert runtime_commands(old, new) == [f"set server {POOL}/{M2} weight 0"]


def test_disabled_added_means_maint_and_removed_means_ready() -> None:
    enabled = config(m2="weight 1" + CHECK)
    disabled = config(m2="weight 1 disabled" + CHECK)
    assert runtime_commands(enabled, disabled) == [f"set server {POOL}/{M2} state maint"]
    assert runtime_commands(disabled, enabled) == [f"set server {POOL}/{M2} state ready"]


def test_disabled_after_backup() -> None:
    old = config(m1="weight 1 backup")
    new = config(m1="weight 3 backup disabled")
    assert runtime_commands(old, new) == [
        f"set server {POOL}/{M1} weight 3",
        f"set server {POOL}/{M1} state maint",
    ]


def test_several_servers_change_in_file_order() -> None:
    old = config()
    new = config(m1="weight 2 disabled", m2="weight 0" + CHECK)
    assert runtime_commands(old, new) == [
        f"set server {POOL}/{M1} weight 2",
        f"set server {POOL}/{M1} state maint",
        f"set server {POOL}/{M2} weight 0",
    ]


@pytest.mark.parametrize(
    ("m1_old", "m1_new"),
    [
        ("weight 1", "weight 1 backup"),  # backup toggled
        ("weight 1", "weight 1" + CHECK),  # health check added
        ("weight 1" + CHECK, "weight 1 check inter 6s fall 3 rise 2"),  # check interval
        ("weight 1 cookie a", "weight 1 cookie b"),
        ("weight 1", "weight 1 unknownkw 3"),  # keyword we cannot split safely
        ("weight 1", "weight 300"),  # out of range: HAProxy would refuse it
        ("weight 1", "weight x"),
        ("weight 1", "weight 1 disabled disabled"),
        ("weight 1", ""),  # implicit default weight on one side
        ("weight 1", 'weight 2 cookie "a b"'),  # quoting: not split on blanks by HAProxy
        ("weight 1", "weight 2 # comment"),
    ],
)
def test_other_server_changes_need_a_reload(m1_old: str, m1_new: str) -> None:
    assert runtime_commands(config(m1=m1_old), config(m1=m1_new)) is None


def test_address_change_needs_a_reload() -> None:
    new = config().replace("198.18.1.1:80", "198.18.1.1:81")
    assert runtime_commands(config(), new) is None


def test_server_added_or_removed_needs_a_reload() -> None:
    old = config()
    added = old + "    server c0000000-0000-4000-8000-000000000003 198.18.1.3:80 weight 1\n"
    assert runtime_commands(old, added) is None
    assert runtime_commands(added, old) is None
    removed = "\n".join(line for line in old.splitlines() if M2 not in line)
    assert runtime_commands(old, removed) is None


def test_server_renamed_needs_a_reload() -> None:
    new = config().replace(M1, "c0000000-0000-4000-8000-00000000000f")
    assert runtime_commands(config(), new) is None


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("maxconn 5000", "maxconn 5001"),
        ("bind 198.18.0.10:80", "bind 198.18.0.10:81"),
        ("balance roundrobin", "balance leastconn"),
        ("mode tcp", "mode http"),
    ],
)
def test_changes_outside_server_lines_need_a_reload(before: str, after: str) -> None:
    assert runtime_commands(config(), config().replace(before, after)) is None


def test_weight_and_other_change_together_need_a_reload() -> None:
    new = config(m1="weight 5").replace("maxconn 5000", "maxconn 4000")
    assert runtime_commands(config(), new) is None


def test_line_added_to_backend_needs_a_reload() -> None:
    new = config(extra_backend="\n    option redispatch")
    assert runtime_commands(config(), new) is None


def test_server_like_line_outside_a_backend_needs_a_reload() -> None:
    old = "listen l\n    bind :80\n    server s 1.2.3.4:80 weight 1\n"
    assert runtime_commands(old, old.replace("weight 1", "weight 2")) is None


def test_quoted_backend_name_is_not_used_in_a_command() -> None:
    old = 'backend "b"\n    server s 1.2.3.4:80 weight 1\n'
    assert runtime_commands(old, old.replace("weight 1", "weight 2")) is None


def test_change_hidden_in_quoted_spacing_is_a_change() -> None:
    old = 'frontend f\n    http-request set-header X "a  b"\n'
    new = 'frontend f\n    http-request set-header X "a b"\n'
    assert runtime_commands(old, new) is None


def test_unicode_whitespace_is_not_a_separator() -> None:
    old = "backend b\n    server s 1.2.3.4:80 weight 1 cookie a\x0cb\n"
    new = "backend b\n    server s 1.2.3.4:80 weight 2 cookie a b\n"
    assert runtime_commands(old, new) is None


def test_server_lines_lists_understood_servers_by_backend() -> None:
    found = server_lines(config(m1="weight 4 backup disabled"))
    assert set(found) == {(POOL, M1), (POOL, M2)}
    m1 = found[(POOL, M1)]
    assert (m1.weight, m1.disabled) == (4, True)
    assert m1.rest == ("server", M1, "198.18.1.1:80", "backup")


def test_parse_server_line_rejects_non_server_lines() -> None:
    assert parse_server_line("b", ("option", "redispatch")) is None
    assert parse_server_line("b", ("server", "s")) is None
