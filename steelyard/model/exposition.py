"""Prometheus text exposition (format 0.0.4): metric families in, text out. Pure.

Label values are escaped as the format says (backslash, double quote, newline), so a load
balancer's name or any tenant string cannot break a line or forge a sample; HELP texts escape
backslash and newline. Label names and metric names are ours, checked against the format's
rules when a family is made.
"""

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Kind = Literal["counter", "gauge", "histogram"]
Labels = tuple[tuple[str, str], ...]
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass(frozen=True, slots=True)
class Sample:
    labels: Labels
    value: float
    suffix: str = ""  # a histogram's "_bucket", "_sum" or "_count"


@dataclass(frozen=True)
class Family:
    name: str
    kind: Kind
    help: str
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        if _NAME.fullmatch(self.name) is None:
            raise ValueError(f"bad metric name {self.name!r}")

    def add(self, value: float, **labels: str) -> None:
        self.samples.append(Sample(tuple(labels.items()), value))


def histogram(
    name: str,
    help_text: str,
    bounds: Sequence[float],
    by_labels: dict[Labels, tuple[list[int], float]],
) -> Family:
    """A histogram family: per label set, the count in each bucket (len(bounds) + 1, the last
    one above every bound, not cumulative) and the sum of the observations."""
    family = Family(name, "histogram", help_text)
    for labels, (counts, total) in by_labels.items():
        running = 0
        for bound, count in zip([*bounds, math.inf], counts, strict=True):
            running += count
            # as Prometheus's own clients write bounds: "1.0", "0.25", "+Inf"
            le = (*labels, ("le", "+Inf" if math.isinf(bound) else repr(float(bound))))
            family.samples.append(Sample(le, running, "_bucket"))
        family.samples.append(Sample(labels, total, "_sum"))
        family.samples.append(Sample(labels, running, "_count"))
    return family


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 2**63:
        return str(int(value))
    return repr(float(value))


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    for name, _ in labels:
        if _LABEL.fullmatch(name) is None or name.startswith("__"):
            raise ValueError(f"bad label name {name!r}")
    return "{" + ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels) + "}"


def render(families: Iterable[Family]) -> str:
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        lines += [
            f"{family.name}{s.suffix}{_labels(s.labels)} {_number(s.value)}" for s in family.samples
        ]
    return "\n".join(lines) + "\n"
