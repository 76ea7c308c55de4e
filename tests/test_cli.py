"""The installed `featwright` console script, run for real in subprocesses on a SQLite file."""

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from src.models import Base

FEATWRIGHT = Path(sys.executable).parent / "featwright"
SECRET_KEY = "cli-test-secret-that-is-long-enough-for-hs256-0123456789"

Run = Callable[..., subprocess.CompletedProcess[str]]


def run_cli(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'cli.db'}",
        "SECRET_KEY": SECRET_KEY,
        "NO_COLOR": "1",
        "TERM": "dumb",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [str(FEATWRIGHT), *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def tables(database: Path) -> set[str]:
    with closing(sqlite3.connect(database)) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def names(database: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(database)) as connection:
        return [
            (str(email), str(name))
            for email, name in connection.execute("SELECT email, name FROM users")
        ]


def users(database: Path) -> list[tuple[str, str, int]]:
    with closing(sqlite3.connect(database)) as connection:
        rows = connection.execute("SELECT email, hashed_password, is_superuser FROM users")
        return [(str(email), str(hashed), int(superuser)) for email, hashed, superuser in rows]


@dataclass
class Migrated:
    """`featwright db upgrade`, run once for this module in its own directory."""

    result: subprocess.CompletedProcess[str]
    database: Path


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Migrated:
    workdir = tmp_path_factory.mktemp("cli-template")
    result = run_cli(workdir, "db", "upgrade")
    return Migrated(result, workdir / "cli.db")


@pytest.fixture
def run(tmp_path: Path, migrated: Migrated) -> Run:
    """Runs the CLI in tmp_path, against a copy of the migrated database."""
    assert migrated.result.returncode == 0, migrated.result.stderr
    shutil.copyfile(migrated.database, tmp_path / "cli.db")
    return lambda *args: run_cli(tmp_path, *args)


HELP_CASES = {
    "featwright": ((), ["Usage: featwright", "serve", "db", "users"]),
    "serve": (("serve",), ["Usage: featwright serve", "--host", "--port"]),
    "db-upgrade": (("db", "upgrade"), ["Usage: featwright db upgrade", "REVISION"]),
    "users-create": (
        ("users", "create"),
        ["Usage: featwright users create", "--email", "--password", "--superuser", "--name"],
    ),
}


@pytest.fixture(scope="module")
def help_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, subprocess.CompletedProcess[str]]]:
    """Every `--help` of HELP_CASES, run side by side (each is a cold interpreter start)."""
    workdir = tmp_path_factory.mktemp("cli-help")
    with ThreadPoolExecutor(max_workers=len(HELP_CASES)) as pool:
        futures = {
            name: pool.submit(run_cli, workdir, *args, "--help")
            for name, (args, _) in HELP_CASES.items()
        }
        return workdir, {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", list(HELP_CASES))
def test_help_describes_each_command(
    help_runs: tuple[Path, dict[str, subprocess.CompletedProcess[str]]], name: str
) -> None:
    workdir, results = help_runs
    result = results[name]

    assert result.returncode == 0, result.stderr
    for text in HELP_CASES[name][1]:
        assert text in result.stdout
    assert not (workdir / "cli.db").exists()


def test_db_upgrade_creates_the_tables(migrated: Migrated) -> None:
    assert migrated.result.returncode == 0, migrated.result.stderr
    assert tables(migrated.database) == {"alembic_version", *Base.metadata.tables}
    assert "Database at head" in migrated.result.stderr


def test_users_create_adds_a_user_once_and_refuses_a_duplicate(run: Run, tmp_path: Path) -> None:
    first = run("users", "create", "--email", "x@example.com", "--password", "amber tundra violin")
    second = run("users", "create", "--email", "x@example.com", "--password", "amber tundra violin")

    assert first.returncode == 0, first.stderr
    assert "Created user x@example.com" in first.stderr
    assert second.returncode != 0
    assert "already exists" in second.stderr
    [(email, hashed, superuser)] = users(tmp_path / "cli.db")
    assert (email, superuser) == ("x@example.com", 0)
    assert hashed.startswith("$argon2")


CREATE_USER = ("users", "create", "--password", "amber tundra violin", "--email")


def test_users_create_names_the_user_as_told_or_after_the_emails_local_part(
    run: Run, tmp_path: Path
) -> None:
    named = run(*CREATE_USER, "a@example.com", "--name", "Ada Lovelace")
    unnamed = run(*CREATE_USER, "b@example.com")

    assert (named.returncode, unnamed.returncode) == (0, 0), named.stderr + unnamed.stderr
    assert sorted(names(tmp_path / "cli.db")) == [
        ("a@example.com", "Ada Lovelace"),
        ("b@example.com", "b"),
    ]


def test_users_create_refuses_a_name_too_long_naming_the_field(run: Run, tmp_path: Path) -> None:
    result = run(*CREATE_USER, "x@example.com", "--name", "x" * 101)

    assert result.returncode == 2
    assert "name: String should have at most 100 characters" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert users(tmp_path / "cli.db") == []


def test_users_create_refuses_a_guessable_password_naming_the_field(
    run: Run, tmp_path: Path
) -> None:
    result = run("users", "create", "--email", "x@example.com", "--password", "password1234")

    assert result.returncode == 2
    assert "password: Password is too easy to guess" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert users(tmp_path / "cli.db") == []


def test_users_create_with_invalid_email_exits_2_naming_the_field(run: Run, tmp_path: Path) -> None:
    result = run("users", "create", "--email", "not-an-email", "--password", "amber tundra violin")

    assert result.returncode == 2
    assert "email" in result.stderr
    assert "Traceback" not in result.stderr
    assert users(tmp_path / "cli.db") == []
