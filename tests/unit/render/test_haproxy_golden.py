"""Golden files: tests/golden/haproxy/<case>.json renders to <case>.cfg, or fails with <case>.err.

Regenerate with `pytest tests/unit/render --update-golden` and review the diff.
"""

import difflib
from pathlib import Path

import pytest

from steelyard.render.errors import RenderError
from steelyard.render.haproxy import render_haproxy
from tests.unit.render.spec_json import load_case

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "golden" / "haproxy"
CASES = sorted(GOLDEN_DIR.glob("*.json"))


def render_case(case: Path) -> tuple[str, str]:
    """(suffix, text): ("cfg", config) when it renders, ("err", message) when it is refused."""
    spec, settings = load_case(case)
    try:
        return "cfg", render_haproxy(spec, settings)
    except RenderError as error:
        return "err", f"{error}\n"


def test_cases_exist() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_golden(case: Path, update_golden: bool) -> None:
    suffix, actual = render_case(case)
    compare_golden(case, suffix, "cfg", actual, update_golden)


def compare_golden(case: Path, suffix: str, ok_suffix: str, actual: str, update: bool) -> None:
    """Compare `actual` with `case`'s golden file of `suffix` (`ok_suffix` for a rendered
    config, "err" for a refusal), or rewrite it when `update` (--update-golden)."""
    expected_path = case.with_suffix(f".{suffix}")
    other_path = case.with_suffix(".err" if suffix == ok_suffix else f".{ok_suffix}")
    if update:
        expected_path.write_text(actual)
        other_path.unlink(missing_ok=True)
        return
    if not expected_path.exists():
        pytest.fail(
            f"{case.stem}: rendering gave .{suffix}, golden has {other_path.name}:\n{actual}"
        )
    expected = expected_path.read_text()
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=str(expected_path),
            tofile="rendered",
        )
        pytest.fail("golden mismatch (run with --update-golden to accept):\n" + "".join(diff))
