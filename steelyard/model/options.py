"""Validators for attributes Octavia knows but this provider does not implement (yet).

A client may send such an attribute empty (null, [], false, "NONE"); anything else is refused
with Octavia's "does not support a requested option" wording, never silently ignored.
"""

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ValidationInfo

from steelyard.model.fields import provider_unsupported

_EMPTY: tuple[object, ...] = (None, "", "NONE")


def _absent(value: Any, info: ValidationInfo) -> None:
    if value is False or value == [] or value == {} or value in _EMPTY:
        return None
    raise provider_unsupported(str(info.field_name))


Absent = Annotated[Any, AfterValidator(_absent)]


def refusing(*values: str) -> BeforeValidator:
    """Before enum validation: give values Octavia knows but we do not support a clear message."""

    def check(value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and value in values:
            raise provider_unsupported(f"{info.field_name} {value}")
        return value

    return BeforeValidator(check)
