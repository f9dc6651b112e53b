"""Allow-list checks for every value a renderer writes into a config file.

Each check returns the value in the exact form to write, or raises `RenderError`. Patterns use
explicit ASCII classes and `fullmatch`: `\\d` would also accept non-ASCII digits, and `$` would
accept a trailing newline. Nothing is quoted or escaped, except the free-text values of L7 rules
and redirects, which `quoted` writes as one strong-quoted word; any other value that would need
quoting is rejected. `config_line` is the last check of every rendered line.
"""

import ipaddress
import re
from enum import Enum
from typing import TypeVar

from steelyard.render.errors import RenderError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
E = TypeVar("E", bound=Enum)

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# RFC 3986 path characters and an optional query, minus what HAProxy's config parser treats
# specially: quotes, backslash, `#` (comment), `$` (environment expansion), space, braces.
_PCHAR = r"(?:[A-Za-z0-9\-._~!&()*+,;=:@]|%[0-9A-Fa-f]{2})"
_URL_PATH = re.compile(rf"/(?:{_PCHAR}|/)*(?:\?(?:{_PCHAR}|[/?])*)?")
MAX_URL_PATH = 1024
# RFC 6265 cookie-name = token (RFC 2616), minus `#`, `$`, `%` and `'`, which HAProxy reads
# as comment, variable, format or quote characters.
_COOKIE_NAME = re.compile(r"[A-Za-z0-9!&*+\-.^_`|~]{1,255}")
# DNS host names as Octavia accepts them: labels of letters, digits, `-` and `_`.
_LABEL = r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
MAX_HOSTNAME = 253
_STATUS = r"[1-5][0-9][0-9]"
_CODE_ITEM = re.compile(rf"({_STATUS})(?:-({_STATUS}))?")
# Paths chosen by the agent; still checked, since they land in the global section.
_ABS_PATH = re.compile(r"/[A-Za-z0-9._/-]*")
MAX_PATH = 4096
# sun_path is 108 bytes including the terminating NUL.
MAX_UNIX_SOCKET_PATH = 107


def describe(value: object) -> str:
    """A short, printable rendering of a rejected value for error messages."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def uuid(value: object, field: str) -> str:
    """An object id, written as is: the naming contract uses the id string unchanged."""
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise RenderError(f"{field} must be a UUID, got {describe(value)}")
    return value


def integer(value: object, field: str, low: int, high: int) -> int:
    # bool is an int subclass; `True` is never a meaningful port or weight.
    if type(value) is not int or not low <= value <= high:
        raise RenderError(f"{field} must be an integer in {low}..{high}, got {describe(value)}")
    return value


def port(value: object, field: str) -> int:
    return integer(value, field, 1, 65535)


def boolean(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise RenderError(f"{field} must be a boolean, got {describe(value)}")
    return value


def member_of(enum: type[E], value: object, field: str) -> E:
    """The enum member for `value`; a plain string with a valid spelling is accepted too."""
    try:
        return enum(value)
    except (ValueError, TypeError):
        raise RenderError(f"{field} is not a valid {enum.__name__}: {describe(value)}") from None


def ip_address(value: object, field: str) -> IPAddress:
    """A unicast IPv4 or IPv6 address without zone id.

    Python accepts `fe80::1%<anything>`, so zone ids are refused before parsing. The unspecified
    address is refused too: as a server address HAProxy reads it as "the client's destination".
    """
    if not isinstance(value, str) or "%" in value or len(value) > 45:
        raise RenderError(f"{field} must be an IP address, got {describe(value)}")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise RenderError(f"{field} must be an IP address, got {describe(value)}") from None
    if address.is_unspecified or address.is_multicast:
        raise RenderError(f"{field} must be a unicast address, got {describe(value)}")
    return address


def host(address: IPAddress) -> str:
    """An address as HAProxy 2.6 reads it unambiguously.

    HAProxy takes the text after the last colon as the port, so a bare `2001:db8::2` after
    `addr` parses as host `2001:db8:` port 2. Brackets (accepted by `bind`, `server` and `addr`)
    remove the ambiguity; IPv4 stays bare.
    """
    if address.version == 6:
        return f"[{address.compressed}]"
    return address.compressed


def host_port(address: IPAddress, port_number: int) -> str:
    return f"{host(address)}:{port_number}"


def url_path(value: object, field: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_URL_PATH or not _URL_PATH.fullmatch(value):
        raise RenderError(f"{field} must be an absolute URL path, got {describe(value)}")
    return value


def cookie_name(value: object, field: str) -> str:
    if not isinstance(value, str) or not _COOKIE_NAME.fullmatch(value):
        raise RenderError(f"{field} must be an RFC 6265 cookie name, got {describe(value)}")
    return value


def hostname(value: object, field: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_HOSTNAME or not _HOSTNAME.fullmatch(value):
        raise RenderError(f"{field} must be a host name, got {describe(value)}")
    return value


def expected_codes(value: object, field: str) -> str:
    """Octavia's expected_codes: `200`, `200,202` or `200-204` (ranges may be listed too).

    The result is the input, which is also the syntax of HAProxy's `http-check expect status`.
    """
    if not isinstance(value, str) or len(value) > 512:
        raise RenderError(f"{field} must be status codes like 200,202 or 200-204")
    for item in value.split(","):
        match = _CODE_ITEM.fullmatch(item)
        if match is None or (match.group(2) is not None and match.group(2) < match.group(1)):
            raise RenderError(
                f"{field} must be status codes like 200,202 or 200-204, got {describe(value)}"
            )
    return value


def absolute_path(value: object, field: str, max_length: int = MAX_PATH) -> str:
    if not isinstance(value, str) or len(value) > max_length or not _ABS_PATH.fullmatch(value):
        raise RenderError(
            f"{field} must be an absolute path of [A-Za-z0-9._/-], got {describe(value)}"
        )
    return value


def netmask_prefix(value: object, field: str) -> tuple[int, int]:
    """(IP version, prefix length) of a netmask written as an address, e.g. 255.255.255.0.

    Octavia types persistence_granularity as an IP address; only contiguous masks make sense.
    """
    if not isinstance(value, str) or "%" in value or len(value) > 45:
        raise RenderError(f"{field} must be a netmask, got {describe(value)}")
    try:
        mask = ipaddress.ip_address(value)
    except ValueError:
        raise RenderError(f"{field} must be a netmask, got {describe(value)}") from None
    bits = mask.max_prefixlen
    as_int = int(mask)
    prefix = bits - ((~as_int) & ((1 << bits) - 1)).bit_length()
    if as_int != ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1):
        raise RenderError(f"{field} must be a contiguous netmask, got {describe(value)}")
    return mask.version, prefix


# Printable ASCII without quotes, backslash, `#`, `$` and braces: each one changes how HAProxy
# splits or expands a line.
_SAFE_CHAR = r"[ !%&()*+,\-./0-9:;<=>?@A-Z\[\]^_`a-z|~]"
# Besides those: strong-quoted words (HAProxy reads everything between single quotes
# literally: no escape, no `$` expansion, no `#` comment), and `\'`, an escaped single quote,
# which is how `quoted` writes a quote inside a value.
_SAFE_LINE = re.compile(rf"(?:{_SAFE_CHAR}|'[\x20-\x26\x28-\x7e]*'|\\')*")
_QUOTABLE = re.compile(r"[\x20-\x7e]*")
MAX_QUOTED = 1024


def quoted(value: object, field: str, max_length: int = MAX_QUOTED) -> str:
    """Printable ASCII as one strong-quoted word, matched literally: `it's` becomes
    `'it'\\''s'` (close the quote, an escaped quote, reopen)."""
    if not isinstance(value, str) or len(value) > max_length or not _QUOTABLE.fullmatch(value):
        raise RenderError(
            f"{field} must be printable ASCII of at most {max_length} characters, "
            f"got {describe(value)}"
        )
    return "'" + value.replace("'", "'\\''") + "'"


def config_line(line: str) -> str:
    """One line of literal characters and strong-quoted words, nothing HAProxy would expand,
    continue or cut (a newline, a comment, an environment variable)."""
    if not _SAFE_LINE.fullmatch(line):
        raise RenderError(
            f"rendered line {describe(line)} holds a character outside the allow-list"
        )
    return line
