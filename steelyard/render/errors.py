"""Errors raised by the pure renderers.

    ValueError
     └── RenderError   a spec or settings value cannot be written into a config safely

A renderer raises instead of quoting when a value is outside its allow-list: a rejected change
is visible to the operator, a config silently reshaped by a tenant's string is not.
"""


class RenderError(ValueError):
    """A value cannot be rendered safely; the message names the field, never echoes it whole."""
