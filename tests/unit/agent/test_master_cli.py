"""parse_show_proc: the master CLI's process list."""

import pytest

from steelyard.agent.master_cli import MasterCliError, parse_show_proc

HEADER = "#<PID>          <type>          <reloads>       <uptime>        <version>      \n"


def test_master_and_current_worker() -> None:
    procs = parse_show_proc(
        HEADER
        + "4451            master          3 [failed: 0]   0d00h10m45s     2.6.12-1+deb12u4\n"
        "# workers\n"
        "11120           worker          0               0d00h00m01s     2.6.12-1+deb12u4\n"
        "# programs\n\n"
    )
    assert (procs.master_pid, procs.reloads, procs.failed) == (4451, 3, 0)
    assert procs.workers == (11120,)
    assert procs.old_workers == ()


def test_old_workers_and_failed_reloads() -> None:
    procs = parse_show_proc(
        HEADER + "10            master          2 [failed: 1]   0d00h10m36s     2.6.12\n"
        "# workers\n"
        "12              worker          1               0d00h00m19s     2.6.12\n"
        "# old workers\n"
        "11              worker          2               0d00h01m19s     2.6.12\n"
        "# programs\n"
    )
    assert procs.failed == 1
    assert procs.workers == (12,)
    assert procs.old_workers == (11,)


def test_no_master_line_is_an_error() -> None:
    with pytest.raises(MasterCliError):
        parse_show_proc("Unknown command.\n")
