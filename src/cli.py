"""The `featwright` command line."""

import asyncio
import copy
import difflib
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
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from uvicorn.config import LOGGING_CONFIG

from src.core.config import get_settings
from src.core.database import Database, create_engine
from src.core.errors import ResourceConflict
from src.core.migrations import ROOT, MigrationRefused, alembic_config
from src.core.security import TokenService
from src.engine.check import check_docs
from src.engine.doc import InvalidDoc, parse_doc
from src.engine.evolve import (
    Built,
    Merged,
    TableChange,
    backup_dir,
    built_path,
    built_record,
    merge_files,
    parse_built_doc,
    read_built,
    render_change_migration,
    schema_changes,
)
from src.engine.generate import (
    GenerationError,
    format_python,
    plan,
    read_current,
    render_feature,
    restore,
    write_all,
)
from src.engine.migrate import next_revision_id
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
    """Apply migrations up to REVISION (one transaction: all of them or none)."""
    try:
        command.upgrade(alembic_config(), revision)
    except MigrationRefused as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
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
        bool, typer.Option("--dry-run", help="Print what would change, write nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite files with the generator's, edits and all.")
    ] = False,
    allow_data_loss: Annotated[
        bool,
        typer.Option("--allow-data-loss", help="Let a removed field drop its column and data."),
    ] = False,
) -> None:
    """Generate a feature from its design doc, or update it after the doc changed.

    An update writes one migration holding just the change and merges the new code into the
    files, keeping hand edits (3-way, against what the last build wrote). Conflicts are left
    with markers, listed, and exit 1; every changed file's old text is kept in
    .featwright/backup/.
    """
    known = frozenset(mapper.class_.__name__ for mapper in Base.registry.mappers)
    try:
        parsed = parse_doc(doc, known)
        files = render_feature(parsed, ROOT)
        built = read_built(ROOT, doc)
        tables = [] if built is None else schema_changes(parse_built_doc(built, doc, known), parsed)
    except FileNotFoundError:
        typer.echo(f"{doc}: no such file", err=True)
        raise typer.Exit(2) from None
    except (InvalidDoc, GenerationError) as error:
        for problem in error.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None
    record = {built_path(doc): built_record(doc.read_text(encoding="utf-8"), files)}
    if built is None:
        _add_new(doc, files, record, dry_run=dry_run, force=force)
    else:
        _update(doc, built, files, record, tables, dry_run, force, allow_data_loss)


def _add_new(
    doc: Path, files: dict[str, str], record: dict[str, str], *, dry_run: bool, force: bool
) -> None:
    """A doc built for the first time: its files must not exist yet (unless forced)."""
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
    before = read_current([*to_write, *record], ROOT)
    write_all({**to_write, **record}, ROOT)
    try:
        verb = "create" if any(before[path] is None for path in to_write) else "change"
        migration = _generate_migration(f"{verb} {doc.stem.split('-', 2)[-1]}")
    except MigrationFailed as error:
        restore(before, ROOT)
        typer.echo(f"the migration could not be generated; nothing written:\n{error}", err=True)
        raise typer.Exit(1) from None
    if not to_write and migration is None:
        Console().print(f"[green]{doc.name}: nothing to change[/green]")
        return
    table = Table("file", "change", title=f"featwright add {doc.name}")
    for path in to_write:
        table.add_row(path, "created" if before[path] is None else "updated")
    if migration:
        table.add_row(_relative(migration), "created")
    Console().print(table)


def _update(
    doc: Path,
    built: Built,
    files: dict[str, str],
    record: dict[str, str],
    tables: list[TableChange],
    dry_run: bool,
    force: bool,
    allow_data_loss: bool,
) -> None:
    """A built doc that changed: merge the code, migrate the schema, keep what was there."""
    merged = merge_files(built.files, files, ROOT)
    if force:
        merged = {path: Merged(files.get(path)) for path in merged}
    current = read_current([*merged, *record], ROOT)
    writes = {path: m.text for path, m in merged.items() if m.text != current[path]}
    conflicts = [path for path, m in merged.items() if m.conflicted]
    dropped = [f"{change.table}.{item.name}" for change in tables for item in change.removed]
    if dropped and not allow_data_loss:
        for column in dropped:
            typer.echo(
                f"{doc}: the doc no longer has field {column}: its column would be"
                " dropped with its data",
                err=True,
            )
        typer.echo("nothing written; pass --allow-data-loss to drop them", err=True)
        raise typer.Exit(1)
    migration = _change_migration(doc, tables) if tables else None
    if dry_run:
        _print_update(doc, writes, current, migration, conflicts)
        return
    if migration is None and not writes:
        if record != {path: current[path] for path in record}:
            write_all(record, ROOT)
        Console().print(f"[green]{doc.name}: nothing to change[/green]")
        return
    backup = backup_dir()
    kept = {f"{backup}/{path}": text for path, text in current.items() if path in writes and text}
    written = {**{path: text for path, text in writes.items() if text is not None}, **record}
    if migration:
        written[migration[0]] = migration[1]
    before = read_current([*written, *writes], ROOT)
    write_all({**written, **kept}, ROOT)
    for path in (path for path, text in writes.items() if text is None):
        (ROOT / path).unlink()
    if migration and not conflicts:
        problem = _verify_migration()
        if problem:
            restore(before, ROOT)
            typer.echo(
                f"the migration does not match the models; nothing written:\n{problem}", err=True
            )
            raise typer.Exit(1)
    table = Table("file", "change", title=f"featwright add {doc.name}")
    for path, text in writes.items():
        change = "removed" if text is None else "created" if current[path] is None else "merged"
        table.add_row(path, "CONFLICT" if path in conflicts else change)
    if migration:
        table.add_row(
            migration[0],
            "created: " + "; ".join(line for change in tables for line in change.summary()),
        )
    Console().print(table)
    if kept:
        Console().print(f"the files as they were: {backup}/")
    if conflicts:
        for path in conflicts:
            typer.echo(f"{path}: conflict; resolve the <<<<<<< ======= >>>>>>> blocks", err=True)
        typer.echo("then run featwright check (and add again, which changes nothing)", err=True)
        raise typer.Exit(1)


def _change_migration(doc: Path, tables: list[TableChange]) -> tuple[str, str]:
    """(path, text) of the migration holding just the doc's change."""
    script = ScriptDirectory.from_config(alembic_config())
    revision = next_revision_id(script)
    resource = doc.stem.split("-", 2)[-1]
    path = f"migrations/versions/{revision}_change_{resource}.py"
    text = render_change_migration(
        tables,
        revision=revision,
        down_revision=script.get_current_head(),
        message=f"change {resource}",
        doc_path=_relative(doc),
    )
    return path, format_python(text, path)


def _print_update(
    doc: Path,
    writes: dict[str, str | None],
    current: dict[str, str | None],
    migration: tuple[str, str] | None,
    conflicts: list[str],
) -> None:
    for path, text in writes.items():
        typer.echo(
            "".join(
                difflib.unified_diff(
                    (current[path] or "").splitlines(keepends=True),
                    (text or "").splitlines(keepends=True),
                    fromfile=f"a/{path}" if current[path] is not None else "/dev/null",
                    tofile=f"b/{path}" if text is not None else "/dev/null",
                )
            ),
            nl=False,
        )
    if migration:
        typer.echo(f"--- new migration {migration[0]}\n{migration[1]}", nl=False)
    for path in conflicts:
        typer.echo(f"{path}: would conflict")
    if not writes and migration is None:
        typer.echo(f"{doc.name}: nothing to change")


def _verify_migration() -> str | None:
    """What is wrong with the newest migration (applied, reverted, applied again on SQLite,
    then compared with the models), or None."""
    result = subprocess.run(
        [sys.executable, "-m", "src.engine.migrate", "--verify"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stderr.strip() or "failed" if result.returncode else None


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
