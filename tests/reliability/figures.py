"""The figures `docs/reliability.md` promises, checked against what a test measured.

Each figure is a table row `| key | claim |` in that file, where the claim is an
exact number (`0`, `100`) or a bound (`≤ 5 s`, `< 2`, `≥ 56` for counts that grow with
the routes a project has). `assert_figure` fails the
test when the measurement breaks the claim, and records it for the run's summary
(printed at the end of `make test`), so the doc never states a figure the suite
does not check.
"""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
ROW = re.compile(r"^\|\s*`(?P<key>[^`]+)`\s*\|\s*(?P<claim>[^|]+?)\s*\|", re.MULTILINE)
CLAIM = re.compile(r"^(?P<op>≤|<|≥|=)?\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>\S*)$")

measured: dict[str, str] = {}


def documented_claims() -> dict[str, str]:
    return {match["key"]: match["claim"] for match in ROW.finditer(DOC.read_text())}


def assert_figure(key: str, value: float, unit: str = "") -> None:
    claims = documented_claims()
    assert key in claims, f"docs/reliability.md has no row for `{key}`"
    claim = CLAIM.match(claims[key])
    assert claim, f"`{key}`: cannot read the claim {claims[key]!r}"
    assert claim["unit"] == unit, f"`{key}`: documented in {claim['unit']!r}, measured in {unit!r}"
    bound = float(claim["number"])
    shown = f"{int(value)}" if float(value).is_integer() else f"{value:.3g}"
    measured[key] = f"{shown} {unit}".strip()
    op = claim["op"] or "="
    holds = {"=": value == bound, "≤": value <= bound, "<": value < bound, "≥": value >= bound}[op]
    assert holds, f"`{key}`: measured {shown} {unit}, docs/reliability.md promises {claims[key]}"
