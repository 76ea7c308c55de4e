"""Undo `featwright add`: a built feature's files, its registry entries, its build record and,
while no database has them, its migrations.

What goes is read off the build record (`.featwright/built/<doc>.json`), not off the doc as
it is now: the record says what `add` wrote. A migration of the feature is deleted only while
it is at the end of the chain and the database at DATABASE_URL has not applied it; a table
that some kept migration creates needs a migration that drops it, which the command line
writes only with `--allow-data-loss`.
"""

import asyncio
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import MetaData, make_url
from sqlalchemy.exc import SQLAlchemyError

from src.core.config import Settings
from src.engine.doc import FeatureDoc, InvalidDoc, link_of, parse_doc_text, table_name
from src.engine.evolve import BUILT_DIR, Built, built_path, parse_built_doc, read_built
from src.engine.generate import (
    GenerationError,
    Names,
    _edit_all,
    _edit_imports,
    _imported,
    _unregister_routes,
    forget_bytecode,
    read_current,
    restore,
    write_all,
)
from src.engine.migrate import VERSIONS, next_revision, render_migration, table_creator, tables_of


class NotBuilt(Exception):
    """The doc has no build record: `add` never built it, so there is nothing to undo."""


class RemovalRefused(Exception):
    """What stops the removal; each line names the file and what to do about it."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class DatabaseUnreadable(Exception):
    """Which migrations the database has applied cannot be read."""


@dataclass(frozen=True)
class Removal:
    """Everything `remove` changes, worked out before anything is touched."""

    doc: FeatureDoc
    resource: str
    record: str
    files: dict[str, str]
    """Each generated file still on disk, with its text now."""
    edited: list[str]
    """Those of `files` that differ from the build: backed up before they go."""
    registries: dict[str, str]
    """Registry (router, models/__init__) -> its text without the feature."""
    migrations: dict[str, str]
    """The feature's migrations that no database here has applied: deleted (and backed up)."""
    tables: list[str]
    drop: "Drop | None"
    """The migration that drops tables a kept migration creates, or None."""


@dataclass(frozen=True)
class Drop:
    reason: str
    """Why the tables cannot simply go with their migrations."""
    tables: list[str]
    path: str
    text: str


def plan_removal(
    root: Path,
    doc_path: Path,
    known_models: frozenset[str],
    metadata: MetaData,
    applied: Callable[[], set[str]],
) -> Removal:
    """What removing the feature built from `doc_path` takes; `applied()` is asked (once,
    and only if the feature has migrations) which revisions the database has applied."""
    built = read_built(root, doc_path)
    if built is None:
        raise NotBuilt(
            f"{doc_path}: not built by featwright add (no {built_path(doc_path)});"
            " nothing to remove"
        )
    doc = _as_built(built, doc_path, known_models)
    names = [Names.of(model) for model in doc.models]
    tables = [model.table for model in doc.models]
    problems = _references(root, doc, doc_path, known_models, metadata)
    if problems:
        raise RemovalRefused(problems)
    current = read_current(built.files, root)
    files = {path: text for path, text in current.items() if text is not None}
    edited = [path for path, text in files.items() if text != built.files[path]]
    try:
        registries = _registries(root, names)
    except GenerationError as error:
        raise RemovalRefused(error.problems) from None
    resource = doc_path.stem.split("-", 2)[-1]  # as `add` names its migrations
    chain = _migrations(root, resource, tables, applied)
    drop = None
    if chain.dropped:
        path, text = _drop_migration(root, doc, doc_path, chain.kept, list(chain.dropped))
        reason = "; ".join(f"table {table}: {why}" for table, why in chain.dropped.items())
        drop = Drop(reason, list(chain.dropped), path, text)
    record = built_path(doc_path)
    return Removal(doc, resource, record, files, edited, registries, chain.deleted, tables, drop)


def apply_removal(root: Path, removal: Removal, backup: str) -> dict[str, str | None]:
    """Back up what the record cannot give back, rewrite the registries, delete the rest.
    Returns what `restore()` needs to put every file back; on an error, puts them back."""
    kept = {f"{backup}/{path}": removal.files[path] for path in removal.edited}
    kept.update({f"{backup}/{path}": text for path, text in removal.migrations.items()})
    gone = [*removal.files, *removal.migrations, removal.record]
    written = dict(removal.registries)
    if removal.drop:
        written[removal.drop.path] = removal.drop.text
    before = read_current([*written, *gone, *kept], root)
    try:
        write_all({**kept, **written}, root)
        for path in gone:
            (root / path).unlink(missing_ok=True)
            forget_bytecode(root / path)
    except OSError:
        restore(before, root)
        raise
    return before


# ------------------------------------------------------------------------- references


def _as_built(built: Built, doc_path: Path, known_models: frozenset[str]) -> FeatureDoc:
    try:
        return parse_built_doc(built, doc_path, known_models)
    except InvalidDoc as error:
        raise RemovalRefused([str(problem) for problem in error.problems]) from None


def _references(
    root: Path,
    doc: FeatureDoc,
    doc_path: Path,
    known_models: frozenset[str],
    metadata: MetaData,
) -> list[str]:
    """Every other feature whose `ref` would break: built docs by name, then any other
    table with a foreign key to the feature's tables (a hand-written model)."""
    models = {model.name for model in doc.models}
    tables = {model.table for model in doc.models}
    own_links = {
        link_of(model, item).table
        for model in doc.models
        for item in model.fields
        if item.type.kind == "refs"
    }
    problems, reported = [], set(own_links)  # the tables whose doc is named already
    for record in sorted((root / BUILT_DIR).glob("*.json")):
        other = Path("docs/features") / f"{record.stem}.md"
        if record.stem == doc_path.stem:
            continue
        built = read_built(root, other)
        for model, field, kind, target, link in _refs(built, other, known_models) if built else ():
            if target in models:
                reported.update(name for name in (table_name(model), link) if name)
                problems.append(
                    f"{other}: {model}.{field} is {kind}({target}), which {doc_path.name}"
                    f" defines; remove {other.name} first (featwright remove {other}) or drop"
                    " the field"
                )
    for table in metadata.sorted_tables:
        if table.name in tables | reported:
            continue
        for key in sorted(table.foreign_keys, key=lambda key: key.target_fullname):
            target = key.target_fullname.split(".")[0]
            if target in tables:
                problems.append(
                    f"table {table.name}: column {key.parent.name} references {target},"
                    f" which {doc_path.name} creates; remove that reference first"
                )
    return problems


def _refs(
    built: Built, path: Path, known_models: frozenset[str]
) -> list[tuple[str, str, str, str, str | None]]:
    """(model, field, `ref` or `refs`, referenced model, link table of a `refs`) of each
    reference in a built doc."""
    try:
        doc = parse_doc_text(built.doc_text, path, known_models)
    except InvalidDoc:  # a doc that no longer parses: its text still says what it refers to
        pattern = re.compile(r"^\|\s*(\w+)\s*\|\s*(refs?)\((\w+)\)", re.MULTILINE)
        return [
            ("a model", field, kind, target, None)
            for field, kind, target in pattern.findall(built.doc_text)
        ]
    return [
        (
            model.name,
            item.name,
            item.type.kind,
            item.type.ref,
            link_of(model, item).table if item.type.kind == "refs" else None,
        )
        for model in doc.models
        for item in model.fields
        if item.type.kind in ("ref", "refs") and item.type.ref
    ]


# ------------------------------------------------------------------------- registries


def _registries(root: Path, names: list[Names]) -> dict[str, str]:
    """The router and the models' registry without the feature's entries (only the ones
    that change)."""
    router_path, models_path = "src/api/v1/router.py", "src/models/__init__.py"
    router = (root / router_path).read_text(encoding="utf-8")
    registry = (root / models_path).read_text(encoding="utf-8")
    new_router, new_registry = router, registry
    for each in names:
        new_router = _unregister_routes(new_router, each)
        new_registry = unregister_model(new_registry, each)
    changed = {}
    if new_router != router:
        changed[router_path] = new_router
    if new_registry != registry:
        changed[models_path] = new_registry
    return changed


def unregister_model(text: str, names: Names) -> str:
    """`src/models/__init__.py` without the model's import and the names it exported, laid
    out as `add` lays it out."""
    module = f"src.models.{names.module}"
    exported = _imported(text, module)
    if not exported:
        return text
    return _edit_all(_edit_imports(text, module, remove=exported), add=set(), remove=exported)


# ------------------------------------------------------------------------- migrations


@dataclass(frozen=True)
class _Chain:
    deleted: dict[str, str]
    """Path -> text of each migration to delete."""
    kept: list[Script]
    """The chain without them, newest first."""
    dropped: dict[str, str]
    """Table -> why it needs a migration that drops it (a kept migration creates it)."""


def _migrations(
    root: Path, resource: str, tables: list[str], applied: Callable[[], set[str]]
) -> _Chain:
    """Which of the feature's migrations can go, and which of its tables must be dropped."""
    script = ScriptDirectory(str(root / "migrations"))
    heads = script.get_heads()
    if len(heads) > 1:
        raise RemovalRefused(
            [f"migrations/versions: {len(heads)} heads ({', '.join(heads)}); merge them first"]
        )
    own = re.compile(rf"^\d+_(create|change)_{re.escape(resource)}\.py$")
    chain = list(script.walk_revisions()) if heads else []  # newest first
    tail = []
    for revision in chain:
        if not own.match(Path(revision.path).name):
            break
        tail.append(revision)
    unknown = None
    done: set[str] = set()
    if tail:
        try:
            done = applied()
        except DatabaseUnreadable as error:
            unknown, done = str(error), {revision.revision for revision in tail}
    deleted = [revision for revision in tail if revision.revision not in done]
    kept = [revision for revision in chain if revision not in deleted]
    dropped = {}
    for table in tables:
        creator = table_creator(kept, table)
        if creator is None:
            continue
        where = _relative(root, creator)
        if unknown is not None and creator in tail:
            dropped[table] = f"{where} may be applied ({unknown})"
        elif creator in tail:
            dropped[table] = f"{where} is applied to the database (DATABASE_URL)"
        elif own.match(Path(creator.path).name):
            dropped[table] = f"{where} is followed by other migrations, so it cannot be deleted"
        else:
            dropped[table] = f"{where} creates it, and is not this feature's alone"
    texts = {
        _relative(root, revision): Path(revision.path).read_text(encoding="utf-8")
        for revision in deleted
    }
    return _Chain(texts, kept, dropped)


def _drop_migration(
    root: Path, doc: FeatureDoc, doc_path: Path, kept: list[Script], tables: list[str]
) -> tuple[str, str]:
    """(path, text) of a migration that drops `tables`, rendered from the doc as last built,
    so its downgrade creates them exactly as `add`'s migration did."""
    resource = doc_path.stem.split("-", 2)[-1]
    revision = next_revision(kept)
    text = render_migration(
        root,
        "migration_drop.py.jinja",
        revision=revision,
        down_revision=kept[0].revision if kept else None,
        message=f"remove {resource}",
        doc_path=f"docs/features/{doc_path.name}",
        tables=tables_of(doc, tables),
    )
    return f"{VERSIONS}/{revision}_remove_{resource}.py", text


def _relative(root: Path, revision: Script) -> str:
    return str(Path(revision.path).resolve().relative_to(root.resolve()))


def applied_revisions(settings: Settings, root: Path) -> set[str]:
    """Every revision the database at DATABASE_URL has applied (its alembic_version heads
    and their ancestors); an empty set for a SQLite file that does not exist. Reads only:
    it creates no file and no table."""
    url = make_url(settings.database_url)
    shown = url.render_as_string(hide_password=True)
    try:
        if url.get_backend_name() == "sqlite":
            heads = _sqlite_heads(url.database)
        else:
            heads = asyncio.run(_server_heads(settings))
    except (OSError, sqlite3.Error, SQLAlchemyError) as error:
        reason = str(error).partition("\n")[0] or type(error).__name__
        raise DatabaseUnreadable(f"cannot read the database {shown}: {reason}") from None
    script = ScriptDirectory(str(root / "migrations"))
    applied: set[str] = set()
    for head in heads:
        try:
            applied.update(revision.revision for revision in script.iterate_revisions(head, "base"))
        except CommandError:
            raise DatabaseUnreadable(
                f"the database {shown} is at revision {head}, which migrations/versions lacks"
            ) from None
    return applied


def _sqlite_heads(database: str | None) -> tuple[str, ...]:
    if not database or database == ":memory:" or not Path(database).exists():
        return ()
    uri = f"{Path(database).resolve().as_uri()}?mode=ro"
    connection = sqlite3.connect(uri, uri=True)
    try:
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return ()
        raise
    finally:
        connection.close()
    return tuple(str(row[0]) for row in rows)


async def _server_heads(settings: Settings) -> tuple[str, ...]:
    from src.core.database import create_engine

    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            heads = await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_heads()
            )
    finally:
        await engine.dispose()
    return tuple(heads)
