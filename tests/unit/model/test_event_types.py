"""Every event type Steelyard records is listed, once, in model/event_types.py."""

import re
from pathlib import Path

import steelyard
from steelyard.model import event_types
from steelyard.model.event_types import EVENT_TYPES

PACKAGE = Path(steelyard.__file__).parent
# `type="x.y"` passed to record_event, and the constants' values
LITERAL = re.compile(r'\btype="([a-z0-9_]+(?:\.[a-z0-9_]+)+)"')


def test_every_recorded_literal_type_is_listed() -> None:
    recorded = {
        name for path in PACKAGE.rglob("*.py") for name in LITERAL.findall(path.read_text())
    }
    assert recorded, "the scan found no event type at all"
    assert recorded - set(EVENT_TYPES) == set()


def test_names_are_dotted_lower_case_and_every_constant_is_listed() -> None:
    constants = {
        value
        for name, value in vars(event_types).items()
        if name.isupper() and isinstance(value, str)
    }
    assert constants == set(EVENT_TYPES)
    for name, meaning in EVENT_TYPES.items():
        assert re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+)+", name), name
        assert meaning.split(":")[0].split("/")[0] in ("info", "warning", "critical"), name
