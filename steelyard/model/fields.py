"""Field types shared by the request and response models.

Request models are strict (JSON types are not coerced: "80" is not a port) and forbid unknown
attributes, as Octavia does. Free text (names, descriptions, tags) is never rendered into a
config file but must still be printable; everything that is rendered has a pattern.
"""

import ipaddress
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationError,
)

from steelyard.model.enums import OperatingStatus, ProvisioningStatus
from steelyard.model.faults import echo

MAX_INT32 = 2**31 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
PROJECT_ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,255}$"


class Body(BaseModel):
    """Base of every request body model."""

    model_config = ConfigDict(strict=True, extra="forbid")


class Out(BaseModel):
    """Base of every response model."""

    model_config = ConfigDict(frozen=True)


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("control characters (newline, NUL, ...) are not allowed")
    return value


def matching(pattern: str, message: str) -> AfterValidator:
    """The whole value matches `pattern` (a trailing newline does not slip through)."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


def _ip(value: str) -> str:
    if "%" in value:  # IPv6 scope ids are arbitrary text after the '%'
        raise ValueError("scoped IPv6 addresses are not allowed")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("Invalid IP address") from None
    return str(address)


Text = Annotated[str, StringConstraints(max_length=255), AfterValidator(_printable)]
Tags = Annotated[list[Text], Field(max_length=100)]
Uuid = Annotated[
    str,
    StringConstraints(max_length=36),
    matching(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", "Invalid UUID"),
    AfterValidator(str.lower),
]
ProjectId = Annotated[str, StringConstraints(pattern=PROJECT_ID_PATTERN)]
IPAddress = Annotated[str, StringConstraints(max_length=64), AfterValidator(_ip)]


def _decimal(value: Any) -> Any:
    """Octavia (wsme) takes "80" for an integer and python-octaviaclient sends some numbers
    as strings (`listener set --connection-limit 10`); other JSON types stay errors."""
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,12}", value):
        return int(value)
    return value


Decimal = BeforeValidator(_decimal)  # in Annotated[int, ...]: an int, or one as a string


Port = Annotated[int, Decimal, Field(ge=1, le=65535)]

Timestamp = Annotated[
    datetime,
    PlainSerializer(lambda value: value.strftime("%Y-%m-%dT%H:%M:%S"), return_type=str),
]


class IdRef(Out):
    id: str


class NamedCreate(Body):
    name: Text | None = None
    admin_state_up: bool = True
    tags: Tags = Field(default_factory=list)


class DescribedCreate(NamedCreate):
    description: Text | None = None


class NamedUpdate(Body):
    """Set the attributes given; null resets one to its default (what `openstack ... unset`
    sends)."""

    name: Text | None = None
    admin_state_up: bool | None = None
    tags: Tags | None = None


class DescribedUpdate(NamedUpdate):
    description: Text | None = None


class ProvisionedOut(Out):
    id: str
    name: str
    provisioning_status: ProvisioningStatus
    operating_status: OperatingStatus
    admin_state_up: bool
    project_id: str
    created_at: Timestamp
    updated_at: Timestamp | None
    tags: list[str]


class DescribedOut(ProvisionedOut):
    description: str


def ids(values: list[str]) -> list[IdRef]:
    return [IdRef(id=value) for value in values]


def provider_unsupported(option: str) -> ValueError:
    return ValueError(f"Provider 'appliance' does not support a requested option: {option}")


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def describe(exc: ValidationError) -> str:
    """One faultstring for a validation error, in Octavia's words where it has some."""
    return describe_errors(exc.errors(include_url=False))


def describe_errors(errors: Sequence[Any]) -> str:
    """The same for pydantic's error dictionaries (as FastAPI reports them)."""
    first = errors[0]
    loc = tuple(first["loc"])
    kind = first["type"]
    msg = str(first["msg"]).removeprefix("Value error, ")
    if kind == "json_invalid":
        text = f"Invalid JSON in request body: {first.get('ctx', {}).get('error', msg)}"
    elif kind == "extra_forbidden":
        parent = _path(loc[:-1]) or "body"
        text = f"Invalid input for field/attribute {parent}. Unknown attribute: {echo(loc[-1])}"
    elif kind == "missing":
        text = f"Invalid input for field/attribute {_path(loc)}. Value: 'Unset'. " + (
            "Mandatory field missing."
        )
    elif not loc:
        text = f"Invalid input: {msg}"
    else:
        text = f"Invalid input for field/attribute {_path(loc)}. Value: '{echo(first['input'])}'. "
        text += msg
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more)"
    return text


def reason(exc: ValueError) -> str:
    """The message of a ValueError raised while checking data, pydantic's included."""
    return describe(exc) if isinstance(exc, ValidationError) else str(exc)
