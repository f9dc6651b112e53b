"""carry_server_state: health state survives a reload, runtime changes do not outlive the config."""

from steelyard.agent.server_state import ADMF_CMAINT, ADMF_FMAINT, carry_server_state

HEADER = (
    "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health "
    "srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord "
    "srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n"
)


def state_line(server: str, op: int, admin: int, uweight: int, iweight: int) -> str:
    return (
        f"3 be 1 {server} 127.0.0.1 {op} {admin} {uweight} {iweight} 5 1 0 4 0 0 0 0 - "
        "18091 - 0 0 - - 0"
    )


def cfg(s1: str, s2: str = "weight 1") -> str:
    return (
        "global\n    maxconn 10\n"
        "backend be\n"
        f"    server s1 127.0.0.1:18091 {s1}\n"
        f"    server s2 127.0.0.1:18092 {s2}\n"
    )


def carried(dump_lines: list[str], running: str | None, target: str) -> dict[str, list[str]]:
    out = carry_server_state(HEADER + "\n".join(dump_lines) + "\n\n", running, target)
    assert out.startswith(HEADER)
    return {line.split(" ")[3]: line.split(" ") for line in out.splitlines()[2:]}


def test_weight_set_at_runtime_becomes_the_configs_weight() -> None:
    # Runtime set s1 to 7 (iweight still 1); the config reverts it to 1.
    lines = carried([state_line("s1", 2, 0, 7, 1)], cfg("weight 7"), cfg("weight 1"))
    assert lines["s1"][7:9] == ["1", "1"]
    assert lines["s1"][5] == "2"  # op state (health) carried


def test_disabled_server_keeps_its_state_while_still_disabled() -> None:
    admin = ADMF_FMAINT | ADMF_CMAINT
    lines = carried(
        [state_line("s1", 0, admin, 1, 1)], cfg("weight 1 disabled"), cfg("weight 2 disabled")
    )
    assert int(lines["s1"][6]) == admin
    assert lines["s1"][7:9] == ["2", "2"]


def test_server_disabled_at_runtime_gets_config_flags() -> None:
    # `set server state maint` sets only FMAINT; the config written with it says `disabled`.
    lines = carried(
        [state_line("s1", 0, ADMF_FMAINT, 1, 1)], cfg("weight 1 disabled"), cfg("weight 1 disabled")
    )
    assert int(lines["s1"][6]) == ADMF_FMAINT | ADMF_CMAINT


def test_server_leaving_maintenance_starts_from_its_config() -> None:
    # Its "stopped" op state would otherwise keep a server without checks down forever.
    lines = carried([state_line("s1", 0, 5, 1, 1)], cfg("weight 1 disabled"), cfg("weight 1"))
    assert "s1" not in lines


def test_server_entering_maintenance_starts_from_its_config() -> None:
    lines = carried([state_line("s1", 2, 0, 1, 1)], cfg("weight 1"), cfg("weight 1 disabled"))
    assert "s1" not in lines


def test_server_whose_line_changed_otherwise_is_dropped() -> None:
    running = cfg("weight 1")
    target = cfg("weight 1 check inter 2s fall 3 rise 2")
    assert "s1" not in carried([state_line("s1", 2, 0, 1, 1)], running, target)


def test_unknown_running_config_keeps_servers_whose_maintenance_matches() -> None:
    lines = carried([state_line("s1", 2, 0, 3, 1)], None, cfg("weight 4"))
    assert lines["s1"][7:9] == ["4", "4"]


def test_forced_drain_is_cleared() -> None:
    lines = carried([state_line("s1", 2, 0x08, 1, 1)], cfg("weight 1"), cfg("weight 1"))
    assert lines["s1"][6] == "0"


def test_servers_not_understood_or_gone_are_left_to_haproxy() -> None:
    target = "backend be\n    server s1 127.0.0.1:18091 weight 1 mystery 1\n"
    lines = carried([state_line("s1", 2, 0, 9, 9), state_line("gone", 2, 0, 1, 1)], None, target)
    assert lines["s1"][7:9] == ["9", "9"]
    assert "gone" in lines


def test_unknown_format_carries_nothing() -> None:
    assert carry_server_state("2\n# something else\n", None, cfg("weight 1")) == ""
    assert carry_server_state("1\n# be_id be_name\n", None, cfg("weight 1")) == ""
