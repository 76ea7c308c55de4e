"""The development loop around the command line: it starts without the heavy libraries, and
`featwright serve --reload` restarts itself when a source file changes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("fastapi", "sqlalchemy", "alembic", "uvicorn", "structlog", "pydantic_settings")

IMPORTED_AFTER = """
import json, sys
from src.cli import app
try:
    app(sys.argv[1:])
except SystemExit as done:
    assert done.code == 0, f"exit {done.code}"
print(json.dumps(sorted(m for m in json.loads(HEAVY) if m in sys.modules)))
"""


def heavy_modules_imported(*args: str) -> list[str]:
    """Which of HEAVY a fresh interpreter has imported after `featwright ARGS` (which must
    exit 0)."""
    script = IMPORTED_AFTER.replace("HEAVY", repr(json.dumps(HEAVY)))
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    imported: list[str] = json.loads(result.stdout.splitlines()[-1])
    return imported


@pytest.mark.parametrize(
    "args",
    [("--help",), ("add", "--help"), ("serve", "--help"), ("db", "--help")],
    ids=" ".join,
)
def test_help_imports_none_of_the_heavy_libraries(args: tuple[str, ...]) -> None:
    assert heavy_modules_imported(*args) == []


def test_check_imports_no_migration_or_server_library() -> None:
    """`check` needs the app (FastAPI, SQLAlchemy), never Alembic or uvicorn."""
    imported = heavy_modules_imported("check")

    assert "fastapi" in imported  # it did compare the docs with the app
    assert not {"alembic", "uvicorn"} & set(imported)
