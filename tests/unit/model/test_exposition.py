"""The Prometheus text writer: what the official parser reads back, and the names it refuses."""

import math

import pytest
from prometheus_client.parser import text_string_to_metric_families

from steelyard.model.exposition import Family, Sample, histogram, render


def test_values_help_and_labels_read_back_exactly() -> None:
    family = Family("x_bytes_total", "counter", "Bytes\\n and a\nnewline")
    family.add(2**62, id='q"\\\n')
    family.add(0.5, id="half")
    gauge = Family("x_ratio", "gauge", "no labels")
    gauge.add(math.nan)
    parsed = {f.name: f for f in text_string_to_metric_families(render([family, gauge]))}
    counter = parsed["x_bytes"]
    assert counter.documentation == "Bytes\\n and a\nnewline"
    assert [(s.labels["id"], s.value) for s in counter.samples] == [
        ('q"\\\n', 2**62),
        ("half", 0.5),
    ]
    assert math.isnan(parsed["x_ratio"].samples[0].value)


def test_histograms_are_cumulative_with_sum_and_count() -> None:
    family = histogram("x_seconds", "took", (0.1, 1.0), {(("kind", "a"),): ([2, 1, 3], 9.5)})
    (parsed,) = text_string_to_metric_families(render([family]))
    values = {(s.name, s.labels.get("le")): s.value for s in parsed.samples}
    assert values == {
        ("x_seconds_bucket", "0.1"): 2,
        ("x_seconds_bucket", "1.0"): 3,
        ("x_seconds_bucket", "+Inf"): 6,
        ("x_seconds_sum", None): 9.5,
        ("x_seconds_count", None): 6,
    }


@pytest.mark.parametrize("name", ["", "1x", "a-b", "a b", "a\nb"])
def test_bad_metric_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="metric name"):
        Family(name, "gauge", "h")


@pytest.mark.parametrize("label", ["", "__reserved", "a-b", "1a", 'a"'])
def test_bad_label_names_are_refused(label: str) -> None:
    family = Family("x", "gauge", "h", [Sample(((label, "v"),), 1)])
    with pytest.raises(ValueError, match="label name"):
        render([family])
