"""Errors that reach a client, with Octavia's HTTP status and wording.

    Fault (Exception)            status   faultstring
     ├── BadRequest              400      as given
     │    └── ValidationFailure  400      "Validation failure: <detail>"
     ├── Unauthorized            401
     ├── Forbidden               403      "Policy does not allow this request to be performed."
     ├── NotFound                404      "<Resource> <id> not found."
     └── Conflict                409      as given
          └── Immutable          409      "<Resource> <id> is immutable and cannot be updated."

`db/` raises them, `api/` turns them into {"faultcode", "faultstring", "debuginfo"} bodies.
"""

MAX_ECHO = 64  # longest piece of client input echoed back in a faultstring


def echo(value: object) -> str:
    """Client input as it may appear inside a faultstring: short, one line."""
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= MAX_ECHO else text[: MAX_ECHO - 3] + "..."


class Fault(Exception):
    status = 500

    def __init__(self, faultstring: str) -> None:
        super().__init__(faultstring)
        self.faultstring = faultstring


class BadRequest(Fault):
    status = 400


class ValidationFailure(BadRequest):
    def __init__(self, detail: str) -> None:
        super().__init__(f"Validation failure: {detail}")


class Unauthorized(Fault):
    status = 401

    def __init__(self, faultstring: str = "Authentication required") -> None:
        super().__init__(faultstring)


class Forbidden(Fault):
    status = 403

    def __init__(
        self, faultstring: str = "Policy does not allow this request to be performed."
    ) -> None:
        super().__init__(faultstring)


class NotFound(Fault):
    status = 404

    def __init__(self, resource: str, ident: str) -> None:
        super().__init__(f"{resource} {echo(ident)} not found.")


class Conflict(Fault):
    status = 409


class Immutable(Conflict):
    def __init__(self, resource: str, ident: str) -> None:
        super().__init__(f"{resource} {ident} is immutable and cannot be updated.")
