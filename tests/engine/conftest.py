"""Shared paths and helpers of the design-doc engine tests (no database involved)."""

from collections.abc import Callable
from pathlib import Path

import pytest

from src.engine.doc import InvalidDoc, parse_doc

ROOT = Path(__file__).resolve().parents[2]
FEATURES = ROOT / "docs" / "features"
PROJECTS_DOC = FEATURES / "FEAT-001-projects.md"
TASKS_DOC = FEATURES / "FEAT-002-tasks.md"
FIXTURES = Path(__file__).parent / "docs"
ORDERS_DOC = FIXTURES / "FEAT-003-orders.md"
CATEGORIES_DOC = FIXTURES / "FEAT-004-categories.md"
APP_MODELS = frozenset({"User", "Project", "Task"})

Edit = tuple[str, str]
WriteDoc = Callable[..., Path]


def edited(text: str, *edits: Edit) -> str:
    """`text` with each `old` replaced by `new`; every `old` must occur exactly once."""
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times, not once"
        text = text.replace(old, new)
    return text


@pytest.fixture
def write_doc(tmp_path: Path) -> WriteDoc:
    """Copy a doc (FEAT-001 by default) into tmp_path under its own name, edited."""

    def write(*edits: Edit, source: Path = PROJECTS_DOC) -> Path:
        path = tmp_path / source.name
        path.write_text(edited(source.read_text(encoding="utf-8"), *edits), encoding="utf-8")
        return path

    return write


def problems_of(path: Path, known_models: frozenset[str] = APP_MODELS) -> list[tuple[int, str]]:
    """(line, message) of every problem `parse_doc` reports; fails if the doc parses."""
    with pytest.raises(InvalidDoc) as error:
        parse_doc(path, known_models)
    return [(problem.line, problem.message) for problem in error.value.problems]
