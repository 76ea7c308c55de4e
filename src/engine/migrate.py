"""The migrations `featwright add` and `remove` write, and the proof that one is right.

A new doc's migration is rendered from the doc (templates/migration_create.py.jinja), as
`remove` renders the one that drops its tables again; neither reads a database. The proof
runs in the process that wrote the files: a scratch SQLite database is upgraded to head, the
newest migration reverted and applied again, and the schema compared with the models as the
files on disk define them now (`fresh_models`).
"""

import importlib
import importlib.abc
import importlib.machinery
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import CodeType, ModuleType

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import MetaData, create_engine

from src.core.migrations import alembic_config, comparison_options
from src.engine.doc import (
    FeatureDoc,
    Link,
    ListIndexes,
    Members,
    link_of,
    list_indexes,
    members_of,
    reads_every_owner,
)
from src.engine.evolve import Column, TableChange, column_of, table_steps
from src.engine.generate import GenerationError
from src.engine.render import Renderer

VERSIONS = "migrations/versions"


# ------------------------------------------------------------------------ the history


class History:
    """The project's migrations as they are on disk, read once."""

    def __init__(self, root: Path) -> None:
        self.script = ScriptDirectory(str(root / "migrations"))
        heads = self.script.get_heads()
        if len(heads) > 1:
            raise GenerationError(
                [f"{VERSIONS}: {len(heads)} heads ({', '.join(heads)}); merge them first"]
            )

    def chain(self) -> list[Script]:
        """Every revision, newest first."""
        return list(self.script.walk_revisions())

    def head(self) -> str | None:
        return self.script.get_current_head()

    def next_revision(self) -> str:
        return next_revision(self.chain())


def next_revision(chain: Sequence[Script]) -> str:
    """Revision ids are numbers: the one after the highest of `chain`."""
    numbers = [int(revision.revision) for revision in chain if revision.revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


def table_creator(chain: Sequence[Script], table: str) -> Script | None:
    """The migration of `chain` (newest first) whose upgrade made `table` exist at its head:
    None when the last one to touch it dropped it, or none did."""
    name = re.escape(table)
    created = re.compile(rf"op\.create_table\(\s*[\"']{name}[\"']")
    dropped = re.compile(rf"op\.drop_table\(\s*[\"']{name}[\"']")
    for revision in chain:
        upgrade = Path(revision.path).read_text(encoding="utf-8").partition("def downgrade(")[0]
        if dropped.search(upgrade):
            return None
        if created.search(upgrade):
            return revision
    return None


# ------------------------------------------------------------------------- the tables


@dataclass(frozen=True)
class Table:
    """A doc model's table, as its migration creates it."""

    name: str
    columns: list[Column]
    """The doc's fields; the columns every row has are the template's."""
    deferred: list[Column]
    """References to a table created after this one (a cycle): added once both exist."""
    links: list[Link] = field(default_factory=list)
    """The link tables of its `refs` fields, created once every table of the doc exists."""
    indexes: ListIndexes = field(default_factory=ListIndexes)
    """The indexes its lists' sorts, range filters and searches need."""
    members: Members | None = None
    """A shared model's members table, created once every table of the doc exists."""


def tables_of(doc: FeatureDoc, only: Sequence[str] | None = None) -> list[Table]:
    """The doc's tables (those named in `only`, if given) in an order they can be created:
    a table after every other one of the doc it references."""
    models = [model for model in doc.models if only is None or model.table in only]
    columns = {
        model.table: [
            column_of(item, model, everyone=reads_every_owner(doc, model))
            for item in model.fields
            if item.stored and item.type.kind != "refs"
        ]
        for model in models
    }
    links = {
        model.table: [link_of(model, item) for item in model.fields if item.type.kind == "refs"]
        for model in models
    }
    indexes = {model.table: list_indexes(doc, model) for model in models}
    members = {model.table: members_of(model) for model in models}
    ordered: list[str] = []
    visiting: set[str] = set()

    def place(table: str) -> None:
        if table in ordered or table in visiting:
            return
        visiting.add(table)
        for column in columns[table]:
            if column.ref in columns:
                place(column.ref)
        visiting.discard(table)
        ordered.append(table)

    for model in models:
        place(model.table)
    return [
        Table(
            table,
            columns[table],
            [
                column
                for column in columns[table]
                if column.ref in columns and ordered.index(column.ref) > ordered.index(table)
            ],
            links[table],
            indexes[table],
            members[table],
        )
        for table in ordered
    ]


# ------------------------------------------------------------------------ rendering


def render_create_migration(
    doc: FeatureDoc, root: Path, history: History, resource: str, doc_path: str
) -> tuple[str, str] | None:
    """(path, text) of the migration that creates the doc's tables the migrations do not
    create yet; None when they all exist."""
    chain = history.chain()
    missing = [model.table for model in doc.models if table_creator(chain, model.table) is None]
    if not missing:
        return None
    revision = next_revision(chain)
    text = render_migration(
        root,
        "migration_create.py.jinja",
        revision=revision,
        down_revision=history.head(),
        message=f"create {resource}",
        doc_path=doc_path,
        tables=tables_of(doc, missing),
    )
    return f"{VERSIONS}/{revision}_create_{resource}.py", text


def render_change_migration(
    changes: list[TableChange],
    root: Path,
    *,
    revision: str,
    down_revision: str | None,
    message: str,
    doc_path: str,
) -> str:
    """One migration holding just a built doc's change, both ways, on SQLite and PostgreSQL:
    each table's steps (evolve.table_steps) in the template's statements."""
    return render_migration(
        root,
        "migration_change.py.jinja",
        message=message,
        revision=revision,
        down_revision=down_revision,
        doc_path=doc_path,
        summary=[line for change in changes for line in change.summary()],
        upgrade=[table_steps(change, reverse=False) for change in changes],
        downgrade=[table_steps(change, reverse=True) for change in reversed(changes)],
    )


def render_migration(root: Path, template: str, **context: object) -> str:
    """A migration template rendered with the header every migration has (its creation
    time added here)."""
    created = datetime.now(UTC).isoformat(sep=" ")
    path = f"{VERSIONS}/{context['revision']}.py"
    return Renderer(root).render_python(template, path, created=created, **context)


# ------------------------------------------------------------------------- the proof


def verify(root: Path, *, revert_last: bool = True) -> str | None:
    """What is wrong with the migrations: on a scratch SQLite database they are applied (the
    last one reverted and applied again, when `revert_last`) and the schema is compared with
    the models on disk. None when nothing is."""
    with tempfile.TemporaryDirectory(prefix="featwright-") as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}"
        config = alembic_config(url)
        config.set_main_option("script_location", str(root / "migrations"))
        config.attributes["configure_logger"] = False
        try:
            with fresh_models() as metadata:
                command.upgrade(config, "head")
                if revert_last:
                    command.downgrade(config, "-1")
                    command.upgrade(config, "head")
                differences = _differences(url, metadata)
        except (Exception, SystemExit) as error:  # env.py or a migration may fail in any way
            return f"{type(error).__name__}: {error}"
    return "\n".join(map(str, differences)) or None


def _differences(url: str, metadata: MetaData) -> list[object]:
    engine = create_engine(url.replace("+aiosqlite", ""))
    try:
        with engine.connect() as connection:
            options = comparison_options(connection.dialect.name)
            context = MigrationContext.configure(connection, opts=options)
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


MODELS = "src.models"
_LAST_PART = MODELS.rpartition(".")[2]


@contextmanager
def fresh_models() -> Iterator[MetaData]:
    """`src.models` imported again from its source files while the block runs: the models
    as the files on disk define them now, not as this process imported them before (nor as a
    `.pyc` left by a file rewritten within the same second may). `migrations/env.py` imports
    `src.models` too, so it sees them as well. The modules imported before are put back."""
    previous = {name: module for name, module in sys.modules.items() if _is_models(name)}
    package = sys.modules.get(MODELS.rpartition(".")[0])
    finder = _SourceOnly()
    for name in previous:
        del sys.modules[name]
    importlib.invalidate_caches()
    sys.meta_path.insert(0, finder)
    try:
        yield importlib.import_module(MODELS).Base.metadata
    finally:
        sys.meta_path.remove(finder)
        for name in [name for name in sys.modules if _is_models(name)]:
            del sys.modules[name]
        sys.modules.update(previous)
        if package is not None:  # its attribute is the module imported last: put it back too
            if MODELS in previous:
                setattr(package, _LAST_PART, previous[MODELS])
            elif hasattr(package, _LAST_PART):
                delattr(package, _LAST_PART)


def _is_models(name: str) -> bool:
    return name == MODELS or name.startswith(MODELS + ".")


class _SourceOnly(importlib.abc.MetaPathFinder):
    """Finds the model modules where Python would, and loads them from their source."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not _is_models(fullname):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _FromSource(spec.loader.name, spec.loader.path)
        return spec


class _FromSource(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname: str) -> CodeType:
        path = self.get_filename(fullname)
        return compile(self.get_data(path), path, "exec", dont_inherit=True)
