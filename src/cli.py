"""The `featwright` command line."""

import atexit
import difflib
import gc
import math
import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from src.engine.newdoc import DocNameError, new_doc

if TYPE_CHECKING:
    from alembic.config import Config

    from src.engine.doc import FeatureDoc
    from src.engine.evolve import Built, TableChange
    from src.schemas.user import UserCreate

app = typer.Typer(help="featwright: serve the API and manage its database.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
doc_app = typer.Typer(help="Feature design docs.", no_args_is_help=True)
templates_app = typer.Typer(
    help="The templates add writes code from: a project's own file in featwright/templates/"
    " is used in place of the built-in one of the same name.",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(doc_app, name="doc")
app.add_typer(templates_app, name="templates")
console = Console(stderr=True)
ROOT = Path(__file__).resolve().parents[1]
"""The project: src.core.migrations.ROOT, without importing alembic to know it."""
DOCS_DIR = ROOT / "docs" / "features"
# One command, then the process ends: its last garbage collection would walk every object
# SQLAlchemy, Alembic or the app left behind (a fifth of a second after `add`). Frozen, they
# are still freed with their modules, only not searched for cycles.
atexit.register(gc.freeze)

# Every import beyond typer and rich is made by the command that needs it: `featwright --help`,
# `doc new` and `check` start without uvicorn, alembic or the database layer, and a generated
# module that does not import (conflict markers left by `add`) cannot stop the command line
# that reports it.


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [default: HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: PORT]")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
    reload: Annotated[
        bool, typer.Option("--reload", help="Restart when a .py file under src/ changes (dev).")
    ] = False,
) -> None:
    """Serve the API with uvicorn.

    On SIGTERM it stops accepting connections, lets requests in flight finish for up to
    SHUTDOWN_TIMEOUT seconds, closes the database pool, and exits 0. With --reload (for
    development) a supervisor restarts the server whenever a source file changes.
    """
    if reload and workers > 1:
        console.print(
            "[red]error:[/red] --reload restarts one server process; drop --workers, or"
            " drop --reload to serve with several workers"
        )
        raise typer.Exit(2)
    import structlog
    import uvicorn
    from sqlalchemy import make_url

    from src.core.config import get_settings
    from src.core.logs import configure_logging
    from src.core.metrics import MULTIPROCESS_DIR

    if not access_log:
        os.environ["LOG_REQUESTS"] = "false"  # read by every worker's settings
    if workers > 1 and not os.environ.get(MULTIPROCESS_DIR):
        # Each worker writes its metrics here; /metrics adds them up.
        os.environ[MULTIPROCESS_DIR] = tempfile.mkdtemp(prefix="featwright-metrics-")
        atexit.register(shutil.rmtree, os.environ[MULTIPROCESS_DIR], ignore_errors=True)
    get_settings.cache_clear()
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    host, port = host or settings.host, port or settings.port
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    where = f"http://{host}:{port}"
    log = structlog.stdlib.get_logger("src.serve")
    log.info(
        f"featwright on {where}: docs at {where}/docs, database {database}, "
        f"{workers} worker{'s' if workers > 1 else ''}"
        f"{', restarting when src/ changes' if reload else ''}",
        url=where,
        docs=f"{where}/docs",
        database=database,
        workers=workers,
        reload=reload,
    )
    # uvicorn raises the signal it stopped on again once it has shut down, for the
    # handler it replaced: this one, so a SIGTERM stop exits 0 (not -15, which
    # supervisors report as a crash). Before uvicorn takes over it simply exits.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        "src.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # uvicorn's reloader polls the modification times (it would use watchfiles if installed)
        reload=reload,
        reload_dirs=[str(ROOT / "src")] if reload else None,
        loop="auto",  # uvloop and httptools where installed
        http="src.core.http_limits:HeaderLimitedProtocol",  # httptools, heads bounded (431)
        access_log=False,  # the app logs each request, with its route and request id
        log_level=settings.log_level,
        log_config=None,  # the app's logging (src/core/logs.py), in every worker
        timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout),
        # X-Forwarded-* only from the proxies named; a str, never None, since with None
        # uvicorn reads FORWARDED_ALLOW_IPS itself and trusts 127.0.0.1 when it is unset.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


def alembic_config(database_url: str | None = None) -> "Config":
    """The project's Alembic config (`src.core.migrations.alembic_config`), imported when used."""
    from src.core.migrations import alembic_config as config

    return config(database_url)


def _exit_cleanly(_signal: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (one transaction: all of them or none)."""
    from alembic import command

    from src.core.migrations import MigrationRefused

    try:
        command.upgrade(alembic_config(), revision)
    except MigrationRefused as error:
        console.print(f"[red]error:[/red] {error}", soft_wrap=True)  # one line, as it is read
        raise typer.Exit(1) from None
    console.print(f"[green]Database at {revision}[/green]")


@db_app.command("seed")
def db_seed(
    rows: Annotated[int, typer.Option(min=1, max=10_000_000, help="Projects to create.")],
    owner: Annotated[str, typer.Option(help="The user who owns them (created if new).")] = (
        "demo@example.com"
    ),
) -> None:
    """Fill the database with demo projects, fast: set-based SQL in batches."""
    import asyncio

    from pydantic import ValidationError
    from sqlalchemy.exc import DBAPIError

    from src.schemas.user import UserCreate

    try:
        email = UserCreate(email=owner, password=secrets.token_urlsafe(16)).email
    except ValidationError as error:
        console.print(f"[red]error:[/red] --owner: {error.errors()[0]['msg']}")
        raise typer.Exit(2) from None
    try:
        asyncio.run(_seed(rows, email))
    except DBAPIError as error:  # a batch is one transaction: what failed wrote nothing
        reason = str(error.orig).partition("\n")[0]
        console.print(
            f"[red]error:[/red] {reason} (is the database at head? featwright db upgrade)"
        )
        raise typer.Exit(1) from None


async def _seed(rows: int, email: str) -> None:
    from rich.progress import MofNCompleteColumn, Progress

    from src.core.config import get_settings
    from src.core.database import Database, create_engine
    from src.repositories.seed_repo import seed_projects
    from src.repositories.user_repo import UserRepository
    from src.schemas.user import UserCreate
    from src.services.auth_service import register

    settings = get_settings()
    engine = create_engine(settings)
    try:
        database = Database(engine, settings)
        users = UserRepository(database)
        user = await users.get_by_email(email)
        if user is None:
            password = secrets.token_urlsafe(16)
            user = await register(users, UserCreate(email=email, password=password))
            assert user is not None, "the email was free a statement ago"
            console.print(f"Created user {email} with password {password}")
        start = datetime.now(UTC) - timedelta(milliseconds=rows)
        columns = (*Progress.get_default_columns(), MofNCompleteColumn())
        with Progress(*columns, console=console) as progress:
            seeding = progress.add_task(f"projects of {email}", total=rows)
            for low in range(1, rows + 1, SEED_BATCH):
                high = min(low + SEED_BATCH - 1, rows)
                await seed_projects(engine, user.id, low, high, start)
                progress.update(seeding, completed=high)
        console.print(f"[green]Seeded {rows} projects for {email}[/green]")
    finally:
        await engine.dispose()


SEED_BATCH = 50_000


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Login email.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, help="Password.")],
    superuser: Annotated[bool, typer.Option("--superuser", help="Sees every user's rows.")] = False,
    name: Annotated[
        str | None,
        typer.Option(help="Display name, 1 to 100 characters [default: the email's local part]."),
    ] = None,
) -> None:
    """Create a user account."""
    import asyncio

    from pydantic import ValidationError

    from src.schemas.user import UserCreate

    named = {} if name is None else {"name": name}  # absent: registration's own default
    try:
        data = UserCreate(email=email, password=password, **named)
    except ValidationError as error:
        for problem in error.errors():
            console.print(f"[red]error:[/red] {problem['loc'][0]}: {problem['msg']}")
        raise typer.Exit(2) from None
    from src.core.errors import InvalidField

    try:
        user_id = asyncio.run(_create_user(data, superuser))
    except InvalidField as error:
        console.print(f"[red]error:[/red] {error.field}: {error.detail}")
        raise typer.Exit(2) from None
    if user_id is None:
        console.print(f"[red]error:[/red] A user with the email {data.email} already exists")
        raise typer.Exit(1)
    console.print(f"[green]Created user {data.email}[/green] ({user_id})")


async def _create_user(data: "UserCreate", superuser: bool) -> str | None:
    """The new user's id; None when the email is taken."""
    from src.core.config import get_settings
    from src.core.database import Database, create_engine
    from src.repositories.user_repo import UserRepository
    from src.services.auth_service import register

    engine = create_engine(get_settings())
    try:
        user = await register(UserRepository(Database(engine)), data, is_superuser=superuser)
        return None if user is None else str(user.id)
    finally:
        await engine.dispose()


@app.command()
def check(
    docs: Annotated[
        list[Path] | None, typer.Argument(help="Design docs [default: docs/features/*.md]")
    ] = None,
) -> None:
    """Compare design docs with the running app; exit 1 on any drift."""
    from src.engine.check import check_docs
    from src.engine.doc import InvalidDoc, parse_doc
    from src.main import create_app
    from src.models import Base

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
    from src.engine.render import template_path

    try:
        path = new_doc(resource, DOCS_DIR, template_path(ROOT, "design_doc.md"))
    except DocNameError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    console.print(f"[green]Wrote {_relative(path)}[/green]")


@templates_app.command("list")
def templates_list() -> None:
    """Every template, and whether this project overrides it."""
    from src.engine.render import OVERRIDES, builtin_names, templates

    table = Table("template", "used", title="featwright templates")
    for template in templates(ROOT):
        used = _relative(template.path) if template.overridden else "built-in"
        table.add_row(template.name, used)
    Console().print(table)
    own, known = ROOT / OVERRIDES, set(builtin_names())
    for path in sorted(own.rglob("*") if own.is_dir() else ()):
        if path.is_file() and str(path.relative_to(own)) not in known:
            typer.echo(f"{_relative(path)}: overrides no template (a typo?)", err=True)


@templates_app.command("copy")
def templates_copy(
    name: Annotated[str, typer.Argument(help="A template's name, e.g. routes.py.jinja")],
    force: Annotated[bool, typer.Option("--force", help="Replace the project's own copy.")] = False,
) -> None:
    """Copy a built-in template into featwright/templates/ to edit: add uses it from then on."""
    from src.engine.render import BUILTIN, OVERRIDES, builtin_names

    if name not in builtin_names():
        typer.echo(f"no template {name!r}; expected one of {', '.join(builtin_names())}", err=True)
        raise typer.Exit(2)
    target = ROOT / OVERRIDES / name
    if target.exists() and not force:
        typer.echo(f"{_relative(target)} exists; nothing written (--force replaces it)", err=True)
        raise typer.Exit(1)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(BUILTIN / name, target)
    console.print(f"[green]Wrote {_relative(target)}[/green]: edit it; add renders from it now")


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
    from src.engine.doc import InvalidDoc, parse_doc
    from src.engine.evolve import (
        built_path,
        built_record,
        has_markers,
        parse_built_doc,
        read_built,
        schema_changes,
    )
    from src.engine.generate import GenerationError, model_names, render_feature
    from src.engine.render import TemplateProblem

    built = read_built(ROOT, doc) if doc.exists() else None
    marked = [path for path in sorted(built.files if built else ()) if has_markers(ROOT / path)]
    if marked and not force:
        for path in marked:
            typer.echo(f"{path}: unresolved conflict markers (<<<<<<< ... >>>>>>>)", err=True)
        typer.echo("nothing written; resolve them, then run add again", err=True)
        raise typer.Exit(1)
    known = model_names(ROOT)
    try:
        parsed = parse_doc(doc, known)
        files = render_feature(parsed, ROOT)
        tables = [] if built is None else schema_changes(parse_built_doc(built, doc, known), parsed)
    except FileNotFoundError:
        typer.echo(f"{doc}: no such file", err=True)
        raise typer.Exit(2) from None
    except (InvalidDoc, GenerationError) as error:
        for problem in error.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None
    except TemplateProblem as error:
        typer.echo(f"{error}; nothing written", err=True)
        raise typer.Exit(2) from None
    try:
        if built is None:
            record = {built_path(doc): built_record(doc.read_text(encoding="utf-8"), files)}
            _add_new(doc, parsed, files, record, dry_run=dry_run, force=force)
        else:
            _update(doc, built, files, tables, dry_run, force, allow_data_loss)
    except GenerationError as error:  # the migrations' history, before anything is written
        for problem in error.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1) from None
    except TemplateProblem as error:  # a migration template: before anything is written
        typer.echo(f"{error}; nothing written", err=True)
        raise typer.Exit(2) from None


def _add_new(
    doc: Path,
    parsed: "FeatureDoc",
    files: dict[str, str],
    record: dict[str, str],
    *,
    dry_run: bool,
    force: bool,
) -> None:
    """A doc built for the first time: its files must not exist yet (unless forced), and a
    migration creates its tables (unless the migrations create them already)."""
    from src.engine.evolve import backup_dir
    from src.engine.generate import plan, read_current, restore, write_all
    from src.engine.migrate import History, render_create_migration, verify

    changes = plan(files, ROOT)
    resource = doc.stem.split("-", 2)[-1]
    migration = render_create_migration(parsed, ROOT, History(ROOT), resource, _relative(doc))
    if dry_run:
        diff = "".join(changes.diff(ROOT, files))
        if migration:
            diff += f"--- new migration {migration[0]}\n{migration[1]}"
        typer.echo(diff or "nothing to change", nl=not diff)
        return
    if changes.conflicts and not force:
        for path in changes.conflicts:
            typer.echo(f"{path}: differs from what {doc.name} generates (a hand edit?)", err=True)
        typer.echo(
            "nothing written; see the difference with --dry-run, overwrite with --force", err=True
        )
        raise typer.Exit(1)
    to_write = {path: files[path] for path in changes.created + changes.changed + changes.conflicts}
    if not to_write and migration is None:
        write_all(record, ROOT)
        Console().print(f"[green]{doc.name}: nothing to change[/green]")
        return
    backup = backup_dir()
    kept = {
        f"{backup}/{path}": (ROOT / path).read_text(encoding="utf-8") for path in changes.conflicts
    }
    written = {**to_write, **record, **kept}
    if migration:
        written[migration[0]] = migration[1]
    before = read_current(written, ROOT)
    write_all(written, ROOT)
    if problem := verify(ROOT, revert_last=migration is not None):
        restore(before, ROOT)
        typer.echo(f"the migration failed its check; nothing written:\n{problem}", err=True)
        raise typer.Exit(1)
    table = Table("file", "change", title=f"featwright add {doc.name}")
    for path in to_write:
        table.add_row(path, "created" if before[path] is None else "updated")
    if migration:
        table.add_row(migration[0], "created")
    Console().print(table)
    if kept:
        Console().print(f"the files as they were: {backup}/")
    _print_next_steps(migration[0] if migration else None, files)


def _update(
    doc: Path,
    built: "Built",
    files: dict[str, str],
    tables: "list[TableChange]",
    dry_run: bool,
    force: bool,
    allow_data_loss: bool,
) -> None:
    """A built doc that changed: merge the code, migrate the schema, keep what was there."""
    from src.engine.evolve import (
        Merged,
        backup_dir,
        built_path,
        built_record,
        has_markers,
        merge_files,
    )
    from src.engine.generate import forget_bytecode, read_current, restore, write_all

    dropped = [
        (f"{change.table}.{item.name}", "link table" if item.type.kind == "refs" else "column")
        for change in tables
        for item in change.removed
    ]
    if dropped and not allow_data_loss:
        for field, storage in dropped:
            typer.echo(
                f"{doc}: the doc no longer has field {field}: its {storage} would be"
                " dropped with its data",
                err=True,
            )
        typer.echo("nothing written; pass --allow-data-loss to drop them", err=True)
        raise typer.Exit(1)
    merged = merge_files(built.files, files, ROOT)
    if force:
        merged = {path: Merged(files.get(path)) for path in merged}
    conflicts = [path for path, m in merged.items() if m.conflicted]
    migration = _change_migration(doc, tables) if tables else None
    # A migration written beside conflicts is checked once they are resolved.
    unverified = bool(migration or built.unverified)
    record_path = built_path(doc)
    doc_text = doc.read_text(encoding="utf-8")
    record = {record_path: built_record(doc_text, files, unverified and bool(conflicts))}
    current = read_current([*merged, *record], ROOT)
    writes = {path: m.text for path, m in merged.items() if m.text != current[path]}
    if dry_run:
        _print_update(doc, writes, current, migration, conflicts)
        return
    if unverified and not conflicts and not migration and (problem := _verify()):
        typer.echo(f"the last migration failed its check:\n{problem}", err=True)
        raise typer.Exit(1)
    if migration is None and not writes:
        if record[record_path] != current[record_path]:
            write_all(record, ROOT)
        Console().print(f"[green]{doc.name}: nothing to change[/green]")
        return
    backup = backup_dir()
    kept = {f"{backup}/{path}": text for path, text in current.items() if path in writes and text}
    written = {**{path: text for path, text in writes.items() if text is not None}, **record}
    if migration:
        written[migration[0]] = migration[1]
    before = read_current([*written, *writes, *kept], ROOT)
    write_all({**written, **kept}, ROOT)
    for path in (path for path, text in writes.items() if text is None):
        (ROOT / path).unlink()
        forget_bytecode(ROOT / path)
    if migration and not conflicts and (problem := _verify()):
        restore(before, ROOT)
        typer.echo(f"the migration failed its check; nothing written:\n{problem}", err=True)
        raise typer.Exit(1)
    table = Table("file", "change", title=f"featwright add {doc.name}")
    for path, text in writes.items():
        change = "removed" if text is None else "created" if current[path] is None else "merged"
        table.add_row(path, "CONFLICT" if path in conflicts else change)
    if migration:
        summary = "; ".join(line for change in tables for line in change.summary())
        table.add_row(migration[0], f"created: {summary}")
    Console().print(table)
    if kept:
        Console().print(f"the files as they were: {backup}/")
    if conflicts:
        for path in conflicts:
            if has_markers(ROOT / path):
                typer.echo(
                    f"{path}: conflict; resolve the <<<<<<< ======= >>>>>>> blocks", err=True
                )
            else:
                typer.echo(f"{path}: no longer generated, but edited by hand: kept", err=True)
        typer.echo("then run featwright check, and add again", err=True)
        raise typer.Exit(1)
    _print_next_steps(migration[0] if migration else None, files)


def _print_next_steps(migration: str | None, files: Iterable[str] = (), *more: str) -> None:
    """What a person does after the code changed: the schema, the server, the tests."""
    tests = sorted(path for path in files if path.startswith("tests/features/test_"))
    steps = [f"featwright db upgrade    (applies {migration})"] if migration else []
    steps.append("restart featwright serve (one started with --reload restarts by itself)")
    if tests:
        steps.append(f"make test PYTEST_ARGS='{' '.join(tests)}'")
    steps += more
    typer.echo("Next:\n" + "".join(f"  {step}\n" for step in steps), nl=False)


def _change_migration(doc: Path, tables: "list[TableChange]") -> tuple[str, str]:
    """(path, text) of the migration holding just the doc's change."""
    from src.engine.migrate import VERSIONS, History, render_change_migration

    history = History(ROOT)
    revision = history.next_revision()
    resource = doc.stem.split("-", 2)[-1]
    text = render_change_migration(
        tables,
        ROOT,
        revision=revision,
        down_revision=history.head(),
        message=f"change {resource}",
        doc_path=_relative(doc),
    )
    return f"{VERSIONS}/{revision}_change_{resource}.py", text


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


def _verify() -> str | None:
    """What is wrong with the newest migration (`src.engine.migrate.verify`), or None."""
    from src.engine.migrate import verify

    return verify(ROOT)


@app.command()
def remove(
    doc: Annotated[
        Path, typer.Argument(help="The design doc add built, e.g. docs/features/FEAT-003-labels.md")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would go, change nothing.")
    ] = False,
    allow_data_loss: Annotated[
        bool,
        typer.Option("--allow-data-loss", help="Write a migration that drops an applied table."),
    ] = False,
) -> None:
    """Undo `add` for a doc: its generated files, registry entries and build record.

    Its migrations go too while the database (DATABASE_URL) has not applied them; a table that
    was applied needs a migration that drops it, written only with --allow-data-loss. Files
    edited by hand are kept in .featwright/backup/ first. All or nothing; the doc stays.
    """
    from src.core.config import get_settings
    from src.engine.evolve import backup_dir
    from src.engine.generate import restore
    from src.engine.remove import (
        NotBuilt,
        RemovalRefused,
        applied_revisions,
        apply_removal,
        plan_removal,
    )
    from src.models import Base

    known = frozenset(mapper.class_.__name__ for mapper in Base.registry.mappers)
    try:
        removal = plan_removal(
            ROOT, doc, known, Base.metadata, lambda: applied_revisions(get_settings(), ROOT)
        )
    except NotBuilt as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    except RemovalRefused as error:
        for refusal in error.problems:
            typer.echo(refusal, err=True)
        typer.echo("nothing removed", err=True)
        raise typer.Exit(1) from None
    if removal.drop and not allow_data_loss:
        typer.echo(f"{doc}: its rows would be lost: {removal.drop.reason}", err=True)
        typer.echo(
            "nothing removed; pass --allow-data-loss to write a migration that drops"
            f" {', '.join(removal.drop.tables)}, then run featwright db upgrade",
            err=True,
        )
        raise typer.Exit(1)
    table = Table("file", "change", title=f"featwright remove {doc.name}")
    for path in removal.files:
        edited = " (edited by hand: backed up)" if path in removal.edited else ""
        table.add_row(path, f"{'would be ' if dry_run else ''}deleted{edited}")
    for path in removal.registries:
        table.add_row(path, f"{'would be ' if dry_run else ''}updated")
    table.add_row(removal.record, f"{'would be ' if dry_run else ''}deleted")
    for path in removal.migrations:
        table.add_row(path, f"{'would be ' if dry_run else ''}deleted (never applied)")
    if removal.drop:
        drops = f"drops {', '.join(removal.drop.tables)}"
        table.add_row(removal.drop.path, f"{'would be ' if dry_run else ''}created: {drops}")
    if dry_run:
        Console().print(table)
        return
    backup = backup_dir()
    try:
        before = apply_removal(ROOT, removal, backup)
    except OSError as error:  # every file is back as it was
        shutil.rmtree(ROOT / backup, ignore_errors=True)
        typer.echo(f"{error}; nothing removed", err=True)
        raise typer.Exit(1) from None
    if removal.drop and (problem := _verify()):
        restore(before, ROOT)
        shutil.rmtree(ROOT / backup, ignore_errors=True)
        typer.echo(f"the migration failed its check; nothing removed:\n{problem}", err=True)
        raise typer.Exit(1)
    Console().print(table)
    if removal.edited or removal.migrations:
        Console().print(f"the files as they were: {backup}/")
    _print_next_steps(
        removal.drop.path if removal.drop else None,
        (),
        f"the doc stays: edit it and add again, or delete {_relative(doc)} (check reads it)",
    )
