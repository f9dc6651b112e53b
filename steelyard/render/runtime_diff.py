"""Which HAProxy runtime API commands turn one config into another, when no reload is needed.

Pure: text in, commands out. The agent calls it before every apply (design principle 5,
"runtime API before reload"): a member's weight or admin state changes in ≈0.1 ms through
the stats socket, where a reload re-executes HAProxy.

Only the two changes that the runtime API makes *exactly* are taken: the `weight <n>` value of
a `server` line and the presence of its `disabled` keyword, in a `backend` section. Anything
else, or a server line with a keyword this module does not know, means "reload" (None): being
conservative here costs a reload, being wrong would leave HAProxy running something other than
the config on disk.

Blank lines and whole-line comments are ignored: they mean nothing to HAProxy, and the renderer
puts a header comment at the top of every file.
"""

import re
from dataclasses import dataclass

# Keywords that open a section. HAProxy recognises them by keyword, not by indentation.
_SECTIONS = frozenset(
    {
        "global",
        "defaults",
        "frontend",
        "backend",
        "listen",
        "peers",
        "resolvers",
        "userlist",
        "program",
        "cache",
        "ring",
        "http-errors",
        "mailers",
    }
)

# Server keywords without an argument, and keywords with exactly one. A keyword in neither set
# makes the line "not understood": we could not tell its arguments from the next keyword.
_FLAGS = frozenset(
    {
        "backup",
        "disabled",
        "enabled",
        "check",
        "no-check",
        "check-ssl",
        "no-check-ssl",
        "ssl",
        "no-ssl",
        "send-proxy",
        "send-proxy-v2",
        "non-stick",
        "agent-check",
    }
)
_WITH_VALUE = frozenset(
    {
        "weight",
        "inter",
        "fastinter",
        "downinter",
        "fall",
        "rise",
        "addr",
        "port",
        "cookie",
        "maxconn",
        "minconn",
        "maxqueue",
        "slowstart",
        "id",
        "observe",
        "on-error",
        "on-marked-down",
        "on-marked-up",
        "error-limit",
        "verify",
        "sni",
        "check-sni",
        "alpn",
        "check-alpn",
        "ca-file",
        "crt",
        "agent-port",
        "agent-inter",
        "agent-addr",
        "agent-send",
        "pool-max-conn",
        "pool-purge-delay",
        "init-addr",
        "resolvers",
        "resolve-prefer",
        "track",
    }
)

MAX_WEIGHT = 256
_BLANKS = " \t\r"
_WORD_SEPARATOR = re.compile(r"[ \t]+")
# Quotes, escapes, comments and control characters (tab aside) change how HAProxy splits words.
_UNPLAIN = re.compile(r"[\"'\\#\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class ServerLine:
    """One `server` line, split into what the runtime API can change and everything else."""

    backend: str
    name: str
    weight: int | None  # None: no `weight` keyword (HAProxy's default, 1)
    disabled: bool
    rest: tuple[str, ...]  # every other token in order, the server name and address included


def parse_server_line(backend: str, tokens: tuple[str, ...]) -> ServerLine | None:
    """Split a tokenised `server` line; None when it is not one or is not fully understood."""
    if len(tokens) < 3 or tokens[0] != "server":
        return None
    rest = list(tokens[:3])
    weight: int | None = None
    disabled = False
    i = 3
    while i < len(tokens):
        keyword = tokens[i]
        if keyword == "disabled":
            if disabled:
                return None
            disabled = True
            i += 1
        elif keyword == "weight":
            if weight is not None or i + 1 >= len(tokens):
                return None
            weight = _weight(tokens[i + 1])
            if weight is None:
                return None
            i += 2
        elif keyword in _FLAGS:
            rest.append(keyword)
            i += 1
        elif keyword in _WITH_VALUE and i + 1 < len(tokens):
            rest += [keyword, tokens[i + 1]]
            i += 2
        else:
            return None
    return ServerLine(
        backend=backend, name=tokens[1], weight=weight, disabled=disabled, rest=tuple(rest)
    )


def server_lines(cfg: str) -> dict[tuple[str, str], ServerLine]:
    """Every understood `server` line of every `backend`, by (backend, server) name."""
    found: dict[tuple[str, str], ServerLine] = {}
    section: tuple[str, ...] = ()
    for line in _significant_lines(cfg):
        tokens = _tokens(line)
        if tokens[0] in _SECTIONS:
            section = tokens if _plain(line) else ()
        elif len(section) >= 2 and section[0] == "backend" and _plain(line):
            server = parse_server_line(section[1], tokens)
            if server is not None:
                found[(server.backend, server.name)] = server
    return found


def runtime_commands(old_cfg: str, new_cfg: str) -> list[str] | None:
    """Runtime API commands turning `old_cfg` into `new_cfg`; None when a reload is needed.

    [] means the two configs are the same to HAProxy.
    """
    old_lines = _significant_lines(old_cfg)
    new_lines = _significant_lines(new_cfg)
    if len(old_lines) != len(new_lines):
        return None
    commands: list[str] = []
    section: tuple[str, ...] = ()
    for old, new in zip(old_lines, new_lines, strict=True):
        if old == new:
            tokens = _tokens(old)
            if tokens[0] in _SECTIONS:
                # A quoted section name would not survive into a runtime command as is.
                section = tokens if _plain(old) else ()
            continue
        if len(section) < 2 or section[0] != "backend" or not (_plain(old) and _plain(new)):
            return None
        changed = _server_commands(section[1], _tokens(old), _tokens(new))
        if changed is None:
            return None
        commands += changed
    return commands


def _server_commands(backend: str, old: tuple[str, ...], new: tuple[str, ...]) -> list[str] | None:
    before = parse_server_line(backend, old)
    after = parse_server_line(backend, new)
    if before is None or after is None or before.rest != after.rest:
        return None
    target = f"{backend}/{after.name}"
    commands = []
    if before.weight != after.weight:
        if after.weight is None or before.weight is None:
            return None  # an implicit default on one side: leave it to a reload
        commands.append(f"set server {target} weight {after.weight}")
    if before.disabled != after.disabled:
        commands.append(f"set server {target} state {'maint' if after.disabled else 'ready'}")
    return commands


def _weight(text: str) -> int | None:
    if not text.isdigit() or len(text) > 3:
        return None
    value = int(text)
    return value if value <= MAX_WEIGHT else None


def _significant_lines(cfg: str) -> list[str]:
    """Lines as HAProxy reads them (split on LF only), without indentation or blank/comment lines.

    Lines are compared as text, not as tokens, so that a change inside a quoted argument is
    never mistaken for a change of spacing.
    """
    lines = []
    for raw in cfg.split("\n"):
        line = raw.strip(_BLANKS)
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def _tokens(line: str) -> tuple[str, ...]:
    # HAProxy separates words with spaces and tabs only (not Python's wider idea of whitespace).
    return tuple(word for word in _WORD_SEPARATOR.split(line) if word)


def _plain(line: str) -> bool:
    """No quoting, escaping or trailing comment: splitting on blanks gives HAProxy's words."""
    return _UNPLAIN.search(line) is None
