"""What of `show servers state` to hand to the next HAProxy through its server-state file.

Pure. The dump is taken just before a reload so that health-check results survive it. Fed back
unchanged, HAProxy 2.6 also restores runtime changes in ways that contradict the new config
(checked on 2.6.12):

- a weight set through the runtime API survives a reload whose config keeps the server's
  *previous* configured weight (`srv_iweight` unchanged), even though the agent wrote the new
  weight into the config;
- a server whose `disabled` keyword is removed by a reload keeps the op state "stopped" that it
  had while in maintenance; without health checks nothing ever brings it up again.

So each line is rewritten against the config about to be loaded: weights (`srv_uweight`,
`srv_iweight`) and the maintenance flags the config controls become the config's values, which
makes HAProxy's "did the configuration change?" comparison come out as "no" and leaves the
config's values in force. A server whose line otherwise changed, or whose maintenance state
changes now, is dropped from the file, so HAProxy starts it from its config like a new server.
Lines of servers this module cannot parse are left for HAProxy to judge.
"""

from steelyard.render.runtime_diff import ServerLine, server_lines

# srv_admin_state bits (HAProxy 2.6 `enum srv_admin`).
ADMF_FMAINT = 0x01  # forced maintenance (CLI, or the `disabled` keyword)
ADMF_CMAINT = 0x04  # maintenance from the config (`disabled`): only a marker
ADMF_FDRAIN = 0x08  # forced drain (CLI)
_CONFIG_CONTROLLED = ADMF_FMAINT | ADMF_CMAINT | ADMF_FDRAIN


def carry_server_state(dump: str, running_cfg: str | None, target_cfg: str) -> str:
    """The server-state file to write before loading `target_cfg`.

    `running_cfg` is the config the current worker runs (with any runtime changes the agent
    made written into it); None when unknown, then only the maintenance rule decides drops.
    """
    lines = dump.splitlines()
    if len(lines) < 2 or lines[0] != "1" or not lines[1].startswith("# "):
        return ""  # an unknown format: better no carried state than a misread one
    columns = lines[1][2:].split()
    try:
        be, srv = columns.index("be_name"), columns.index("srv_name")
        admin, uweight, iweight = (
            columns.index("srv_admin_state"),
            columns.index("srv_uweight"),
            columns.index("srv_iweight"),
        )
    except ValueError:
        return ""
    target = server_lines(target_cfg)
    running = server_lines(running_cfg) if running_cfg is not None else None
    kept = lines[:2]
    for line in lines[2:]:
        fields = line.split(" ")
        if len(fields) != len(columns) or not fields[admin].isdigit():
            continue
        key = (fields[be], fields[srv])
        wanted = target.get(key)
        if wanted is None:
            kept.append(line)
            continue
        if not _carry(
            int(fields[admin]),
            wanted,
            running.get(key) if running is not None else None,
            running is not None,
        ):
            continue
        flags = int(fields[admin]) & ~_CONFIG_CONTROLLED
        if wanted.disabled:
            flags |= ADMF_FMAINT | ADMF_CMAINT
        fields[admin] = str(flags)
        if wanted.weight is not None:
            fields[uweight] = fields[iweight] = str(wanted.weight)
        kept.append(" ".join(fields))
    return "\n".join(kept) + "\n"


def _carry(admin: int, wanted: ServerLine, before: ServerLine | None, running_known: bool) -> bool:
    if running_known and (before is None or before.rest != wanted.rest):
        return False  # address, checks or options changed: the old state describes another server
    return bool(admin & ADMF_FMAINT) == wanted.disabled
