"""The `featwright` command line."""

import asyncio
import copy
import math
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
import uvicorn
from alembic import command
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from uvicorn.config import LOGGING_CONFIG

from src.core.config import get_settings
from src.core.database import Database, create_engine
from src.core.errors import ResourceConflict
from src.core.migrations import ROOT, alembic_config
from src.core.security import TokenService
from src.engine.check import check_docs
from src.engine.doc import InvalidDoc, parse_doc
from src.engine.generate import (
    GenerationError,
    plan,
    read_current,
    render_feature,
    restore,
    write_all,
)
from src.engine.newdoc import DocNameError, new_doc
from src.main import create_app
from src.models import Base
from src.repositories.user_repo import UserRepository
from src.schemas.user import UserCreate
from src.services.auth_service import AuthService

app = typer.Typer(help="featwright: serve the API and manage its database.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
doc_app = typer.Typer(help="Feature design docs.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(doc_app, name="doc")
console = Console(stderr=True)
DOCS_DIR = ROOT / "docs" / "features"


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [default: HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: PORT]")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
) -> None:
    """Serve the API with uvicorn.

    On SIGTERM it stops accepting connections, lets requests in flight finish for up to
    SHUTDOWN_TIMEOUT seconds, closes the database pool, and exits 0.
    """
    settings = get_settings()
    # uvicorn raises the signal it stopped on again once it has shut down, for the
    # handler it replaced: this one, so a SIGTERM stop exits 0 (not -15, which
    # supervisors report as a crash). Before uvicorn takes over it simply exits.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        "src.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        loop="auto",  # uvloop and httptools where installed
        http="auto",
        access_log=access_log,
        log_level=settings.log_level,
        log_config=_log_config(settings.log_level),
        timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout),
    )


def _exit_cleanly(_signal: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def _log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, with the app's own loggers (`src.*`) on its console handler."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["src"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION."""
    command.upgrade(alembic_config(), revision)
    console.print(f"[green]Database at {revision}[/green]")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Login email.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, help="Password.")],
    superuser: Annotated[bool, typer.Option("--superuser", help="Sees every user's rows.")] = False,
) -> None:
    """Create a user account."""
    try:
        data = UserCreate(email=email, password=password)
    except ValidationError as error:
        for problem in error.errors():
            console.print(f"[red]error:[/red] {problem['loc'][0]}: {problem['msg']}")
        raise typer.Exit(2) from None
    try:
        user_id = asyncio.run(_create_user(data, superuser))
    except ResourceConflict as error:
        console.print(f"[red]error:[/red] {error.detail}")
        raise typer.Exit(1) from None
    console.print(f"[green]Created user {data.email}[/green] ({user_id})")


async def _create_user(data: UserCreate, superuser: bool) -> str:
    settings = get_settings()
    engine = create_engine(settings)
    try:
        tokens = TokenService.from_settings(settings)
        user = await AuthService(UserRepository(Database(engine)), tokens).register(
            data, is_superuser=superuser
        )
        return str(user.id)
    finally:
        await engine.dispose()


@app.command()
def check(
    docs: Annotated[
        list[Path] | None, typer.Argument(help="Design docs [default: docs/features/*.md]")
    ] = None,
) -> None:
    """Compare design docs with the running app; exit 1 on any drift."""
    paths = docs or sorted(DOCS_DIR.glob("FEAT-*.md"))
    if not paths:
        console.print(f"[red]error:[/red] no design docs in {DOCS_DIR}")
        raise typer.Exit(2)
    known = frozenset(mapper.class_.__name__ for mapper in Base.registry.mappers)
    parsed, problems = [], []
    for path in paths:
        try:
            parsed.append(parse_doc(path, known))
        except FileNotFoundError:
            problems.append(f"{path}: no such file")
        except InvalidDoc as error:
            problems += [str(problem) for problem in error.problems]
    if problems:
        for problem in problems:  # plain lines: one problem per line, even when piped
            typer.echo(problem, err=True)
        raise typer.Exit(2)
    mismatches = check_docs(parsed, create_app(), Base, ROOT)
    if not mismatches:
        Console().print(f"[green]{len(parsed)} design docs match the app[/green]")
        return
    table = Table("doc", "line", "subject", "mismatch", title="Design docs vs the app")
    for mismatch in mismatches:
        table.add_row(
            _relative(mismatch.doc), str(mismatch.line or ""), mismatch.subject, mismatch.problem
        )
    Console().print(table)
    raise typer.Exit(1)


@doc_app.command("new")
def doc_new(
    resource: Annotated[str, typer.Argument(help="Plural snake_case resource, e.g. labels")],
) -> None:
    """Write docs/features/FEAT-NNN-RESOURCE.md from the template, ready to edit."""
    try:
        path = new_doc(resource, DOCS_DIR)
    except DocNameError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    console.print(f"[green]Wrote {_relative(path)}[/green]")


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@app.command()
def add(
    doc: Annotated[
        Path, typer.Argument(help="The design doc, e.g. docs/features/FEAT-003-labels.md")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the diff, write nothing.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that differ.")] = False,
) -> None:
    """Generate a feature from its design doc: files, registrations and migration."""
    known = frozenset(mapper.class_.__name__ for mapper in Base.registry.mappers)
    try:
        files = render_feature(parse_doc(doc, known), ROOT)
    except FileNotFoundError:
        typer.echo(f"{doc}: no such file", err=True)
        raise typer.Exit(2) from None
    except (InvalidDoc, GenerationError) as error:
        problems = error.problems
        for problem in problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None
    changes = plan(files, ROOT)
    if dry_run:
        typer.echo("".join(changes.diff(ROOT, files)) or "nothing to change")
        return
    if changes.conflicts and not force:
        for path in changes.conflicts:
            typer.echo(f"{path}: differs from what {doc.name} generates (a hand edit?)", err=True)
        typer.echo(
            "nothing written; see the difference with --dry-run, overwrite with --force", err=True
        )
        raise typer.Exit(1)
    to_write = {path: files[path] for path in changes.created + changes.changed + changes.conflicts}
    if not to_write:
        Console().print(f"[green]{doc.name}: nothing to change[/green]")
        return
    before = read_current(to_write, ROOT)
    write_all(to_write, ROOT)
    try:
        verb = "create" if any(text is None for text in before.values()) else "change"
        migration = _generate_migration(f"{verb} {doc.stem.split('-', 2)[-1]}")
    except MigrationFailed as error:
        restore(before, ROOT)
        typer.echo(f"the migration could not be generated; nothing written:\n{error}", err=True)
        raise typer.Exit(1) from None
    table = Table("file", "change", title=f"featwright add {doc.name}")
    for path in to_write:
        table.add_row(path, "created" if before[path] is None else "updated")
    if migration:
        table.add_row(_relative(migration), "created")
    Console().print(table)


class MigrationFailed(Exception):
    pass


def _generate_migration(message: str) -> Path | None:
    """The new migration, or None if none was needed; MigrationFailed says why not."""
    result = subprocess.run(  # noqa: S603 (this interpreter, our own module)
        [sys.executable, "-m", "src.engine.migrate", message],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise MigrationFailed(result.stderr)
    created = result.stdout.strip().splitlines()[-1:]
    return Path(created[0]) if created and created[0] else None
