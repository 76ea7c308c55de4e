"""Update a built feature from its changed design doc: a migration for the schema, a 3-way
merge for the code.

`featwright add` records, per doc, what it last built: `.featwright/built/<doc>.json` holds
the doc's text and every file the generator wrote for it. When the doc changes, that record is
the merge base (ours is the file on disk, theirs the new render), and the schema change is
read off the two docs, not off a database: a rename is a rename, and every tightened rule is
counted against the rows before the migration writes anything.
"""

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from merge3 import Merge3

from src.engine.doc import (
    OWNER_SCOPE,
    FeatureDoc,
    Link,
    ListIndexes,
    Members,
    Model,
    ModelField,
    link_of,
    list_indexes,
    members_of,
    number_text,
    parse_doc_text,
    reads_every_owner,
    table_name,
    unique_columns,
)
from src.engine.generate import (
    REGISTRIES,
    GenerationError,
    column_of_enum,
    int_column,
    list_item,
    range_condition,
)

BUILT_DIR = ".featwright/built"
BACKUP_DIR = ".featwright/backup"
"""Each file as it was before an update changed it, under the update's UTC time."""


# ------------------------------------------------------------------- the built record


@dataclass(frozen=True)
class Built:
    doc_text: str
    files: dict[str, str]
    unverified: bool = False
    """Its migration was written beside conflicts, so not checked yet."""


def built_path(doc_path: Path) -> str:
    return f"{BUILT_DIR}/{doc_path.stem}.json"


def read_built(root: Path, doc_path: Path) -> Built | None:
    path = root / built_path(doc_path)
    if not path.exists():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    return Built(record["doc"], record["files"], record.get("unverified", False))


def built_record(doc_text: str, files: dict[str, str], unverified: bool = False) -> str:
    """The record of a build: the doc and what the generator wrote (registries are merged
    into, never owned, so they are not part of it)."""
    owned = {path: text for path, text in files.items() if path not in REGISTRIES}
    record: dict[str, object] = {"doc": doc_text, "files": owned}
    if unverified:
        record["unverified"] = True
    return json.dumps(record, indent=1, sort_keys=True) + "\n"


def has_markers(path: Path) -> bool:
    """Whether a file still holds the conflict markers of a merge."""
    if not path.is_file():
        return False
    lines = path.read_text(encoding="utf-8").splitlines()
    return any(line.startswith(("<<<<<<< ", ">>>>>>> ")) for line in lines)


def backup_dir(now: datetime | None = None) -> str:
    return f"{BACKUP_DIR}/{(now or datetime.now(UTC)):%Y%m%dT%H%M%S%fZ}"


# ------------------------------------------------------------------------- the merge


@dataclass(frozen=True)
class Merged:
    text: str | None
    """The file's new text; None: the file is no longer generated and is removed."""
    conflicted: bool = False


def merge_files(base: dict[str, str], theirs: dict[str, str], root: Path) -> dict[str, Merged]:
    """Each file's 3-way merge: base (the last build), ours (on disk), theirs (the new build)."""
    merged = {}
    for path in sorted(set(base) | set(theirs)):
        target = root / path
        ours = target.read_text(encoding="utf-8") if target.exists() else None
        if path in REGISTRIES:
            merged[path] = Merged(theirs[path])
        else:
            merged[path] = merge_text(base.get(path), ours, theirs.get(path), path)
    return merged


def merge_text(base: str | None, ours: str | None, theirs: str | None, path: str) -> Merged:
    if ours is None or ours == base:  # not edited by hand (or removed by hand): theirs
        return Merged(theirs)
    if theirs is None:  # no longer generated, but edited: kept, for a person to decide
        return Merged(ours, conflicted=True)
    if ours == theirs:
        return Merged(ours)
    merge = Merge3(
        (base or "").splitlines(keepends=True),
        ours.splitlines(keepends=True),
        theirs.splitlines(keepends=True),
    )
    conflicted = any(group[0] == "conflict" for group in merge.merge_groups())
    lines = merge.merge_lines(name_a=f"{path} (yours)", name_b=f"{path} (the changed doc)")
    return Merged("".join(lines), conflicted)


# ------------------------------------------------------------------ the schema change


@dataclass(frozen=True)
class Column:
    """What a doc field is in the database: everything a migration may have to change."""

    name: str
    type: str
    """The SQLAlchemy type as a migration writes it."""
    nullable: bool
    check: str | None
    """The CHECK condition, on this column's name."""
    check_name: str | None
    ref: str | None
    """The referenced table, for a `ref`."""
    on_delete: str | None
    length: int | None
    """The longest text a `str` or `enum` column holds; None for unbounded text."""
    digits: tuple[int, int] | None
    """A `Decimal`'s precision and scale."""
    rule: str
    """The doc's words, for messages: `weight int(0..10) not null`."""
    unique: tuple[str, ...] | None = None
    """The columns of its unique index, itself last; None when it is not unique."""
    gin: bool = False
    """A `list` column, with its index of the items (GIN on PostgreSQL)."""

    def shape(self) -> tuple[object, ...]:
        return (self.type, self.nullable, self.check, self.ref, self.on_delete, self.unique)

    def gin_differs(self, other: "Column | None") -> bool:
        """Its items' index is not `other`'s (named after the column, so a rename differs
        too): drop or create it."""
        return other is None or (other.name, other.gin) != (self.name, self.gin)

    def unique_differs(self, other: "Column | None") -> bool:
        """Its unique index is not `other`'s (named after its columns, so a rename of one
        differs too): drop or create it."""
        return other is None or other.unique != self.unique

    def check_differs(self, other: "Column | None") -> bool:
        """Its CHECK is not `other`'s (or there is no `other`): drop or create it."""
        return other is None or (other.check, other.check_name) != (self.check, self.check_name)

    def reference_differs(self, other: "Column | None") -> bool:
        """Its foreign key and index are not `other`'s (named after the column, so a rename
        differs too): drop or create them."""
        return other is None or (other.name, other.ref, other.on_delete) != (
            self.name,
            self.ref,
            self.on_delete,
        )


def column_of(
    item: ModelField, model: Model, name: str | None = None, *, everyone: bool = False
) -> Column:
    """The column of `item`, named `name` (its own name by default), on a model whose reads
    are public (`everyone`: a `unique` field is then unique among all rows) or not."""
    name = name or item.name
    kind, high = item.type.kind, item.type.high
    check = check_name = ref = on_delete = None
    length: int | None = None
    digits = None
    if kind == "str":
        length = None if high is None else int(high)
        type_ = "sa.Text()" if length is None else f"sa.String(length={length})"
    elif kind == "int":
        type_ = f"sa.{int_column(item)[0]}()"
    elif kind == "float":
        type_ = "sa.Float()"
    elif kind == "decimal":
        if item.type.precision is None or item.type.scale is None:
            type_ = "sa.Numeric()"
        else:
            digits = (item.type.precision, item.type.scale)
            type_ = f"sa.Numeric(precision={digits[0]}, scale={digits[1]})"
    elif kind == "enum":
        length = max(20, *(len(choice) for choice in item.type.choices))
        type_ = f"sa.String(length={length})"
        check, check_name = f"{name} IN ({', '.join(map(_sql_text, item.type.choices))})", name
    elif kind in ("uuid", "ref"):
        type_ = "sa.Uuid()"
    elif kind == "list":
        element = list_item(item)
        if element.type.kind == "enum":
            inner = f"sa.{column_of_enum(element.type).replace('(', '(length=')}"
        else:
            inner = column_of(element, model).type
        type_ = f"src.models.base.ValueList({inner})"
    elif kind in ("object", "json"):
        type_ = "src.models.base.JsonDocument()"
    else:
        type_ = {
            "bool": "sa.Boolean()",
            "date": "sa.Date()",
            "datetime": "src.models.base.UTCDateTime(timezone=True)",
        }[kind]
    if kind in ("int", "float"):
        check = range_condition(item, name)
        check_name = f"{name}_range" if check else None
    if kind == "ref":
        ref = table_name(item.type.ref or "")
        on_delete = "SET NULL" if item.nullable else "CASCADE"
    unique = unique_columns(item, everyone=everyone, name=name)
    rule = f"{name} {_type_words(item)}{'' if item.nullable else ' not null'}"
    if unique is not None:
        rule += f" unique{_scope_words(unique, ' per {}', ' among all rows')}"
    return Column(
        name,
        type_,
        item.nullable,
        check,
        check_name,
        ref,
        on_delete,
        length,
        digits,
        rule,
        unique,
        gin=kind == "list",
    )


def _scope_words(unique: tuple[str, ...], per: str, everyone: str) -> str:
    """What a unique index's columns before its field say: `per` with the field that groups
    the rows, `everyone` for none; nothing for the owner."""
    scope = unique[:-1]
    if scope == OWNER_SCOPE:
        return ""
    return per.format(", ".join(scope)) if scope else everyone


def _type_words(item: ModelField) -> str:
    kind, low, high = item.type.kind, item.type.low, item.type.high
    if kind == "list":
        count = "" if low is None and high is None else f"({_bound_words(low, high)})"
        return f"list[{_type_words(list_item(item))}]{count}"
    if kind == "object":
        return f"object({item.type.object})"
    if item.type.pattern is not None:
        plain = replace(item, type=replace(item.type, pattern=None))
        return f"{_type_words(plain)} matching {item.type.pattern}"
    if kind == "enum":
        return f"enum({', '.join(item.type.choices)})"
    if kind == "decimal" and item.type.precision is not None:
        return f"Decimal({item.type.precision}, {item.type.scale})"
    if kind in ("str", "int", "float") and (low is not None or high is not None):
        low_text, high_text = (("" if v is None else number_text(v)) for v in (low, high))
        bound = f"{low_text}..{high_text}"
        return f"{kind}({bound})"
    if kind == "ref":
        return f"ref({item.type.ref})"
    return {"decimal": "Decimal", "uuid": "UUID"}.get(kind, kind)


def _bound_words(low: float | None, high: float | None) -> str:
    return f"{'' if low is None else number_text(low)}..{'' if high is None else number_text(high)}"


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass
class TableChange:
    model: Model
    added: list[ModelField] = field(default_factory=list)
    removed: list[ModelField] = field(default_factory=list)
    renamed: list[tuple[ModelField, ModelField]] = field(default_factory=list)
    changed: list[tuple[ModelField, ModelField]] = field(default_factory=list)
    """(before, after) of fields whose column differs, and of every renamed field."""
    everyone: tuple[bool, bool] = (False, False)
    """Whether the model's reads are public (`column_of`) before and after the change."""
    indexes: tuple[ListIndexes, ListIndexes] = (ListIndexes(), ListIndexes())
    """The indexes its lists need (doc.list_indexes) before and after the change."""
    members: tuple[Members | None, Members | None] = (None, None)
    """Its members table (`Access: shared`) before and after the change."""

    @property
    def table(self) -> str:
        return self.model.table

    def __bool__(self) -> bool:
        changed = self.indexes[0] != self.indexes[1] or self.members[0] != self.members[1]
        return bool(self.added or self.removed or self.renamed or self.changed or changed)

    def index_changes(self, reverse: bool = False) -> tuple[ListIndexes, ListIndexes]:
        """(the list indexes to drop, those to create), upgrading or, `reverse`, downgrading."""
        before, after = self.indexes[::-1] if reverse else self.indexes
        return (
            ListIndexes(
                tuple(n for n in before.ordered if n not in after.ordered),
                tuple(n for n in before.searched if n not in after.searched),
            ),
            ListIndexes(
                tuple(n for n in after.ordered if n not in before.ordered),
                tuple(n for n in after.searched if n not in before.searched),
            ),
        )

    def summary(self) -> list[str]:
        lines = [f"{self.table}.{item.name}: added" for item in self.added]
        lines += [f"{self.table}.{new.name}: renamed from {old.name}" for old, new in self.renamed]
        was, now = self.everyone
        for old, new in self.changed:
            before = column_of(old, self.model, new.name, everyone=was)
            after = column_of(new, self.model, everyone=now)
            if before.rule != after.rule:
                lines.append(f"{self.table}.{new.name}: {before.rule} -> {after.rule}")
        lines += [f"{self.table}.{item.name}: removed" for item in self.removed]
        before_members, after_members = self.members
        if after_members is not None and before_members is None:
            lines.append(
                f"{self.table}: shared, its members in {after_members.table}; the creator of each"
                " row is made its admin"
            )
        if before_members is not None and after_members is None:
            lines.append(
                f"{self.table}: no longer shared; {before_members.table} is dropped, and each"
                " row is its creator's alone"
            )
        dropped, created = self.index_changes()
        lines += [f"{self.table}: index for lists by {name} added" for name in created.ordered]
        lines += [f"{self.table}: trigram index on {name} added" for name in created.searched]
        lines += [f"{self.table}: index for lists by {name} dropped" for name in dropped.ordered]
        lines += [f"{self.table}: trigram index on {name} dropped" for name in dropped.searched]
        return lines


def schema_changes(old: FeatureDoc, new: FeatureDoc) -> list[TableChange]:
    """What changed in the columns of each model from the built doc to the changed one."""
    old_models = {model.name: model for model in old.models}
    new_models = {model.name: model for model in new.models}
    problems = [
        f"{new.path}:1: model {name} is {'gone' if name in old_models else 'new'}; a changed"
        " doc may add, rename, change and remove fields and endpoints, not models (put a new"
        " model in a doc of its own)"
        for name in sorted(set(old_models) ^ set(new_models))
    ]
    changes = []
    for name in sorted(set(old_models) & set(new_models)):
        before, after = old_models[name], new_models[name]
        was, now = reads_every_owner(old, before), reads_every_owner(new, after)
        indexes = (list_indexes(old, before), list_indexes(new, after))
        members = (members_of(before), members_of(after))
        change = TableChange(after, everyone=(was, now), indexes=indexes, members=members)
        for item in after.fields:
            previous = before.field(item.name)
            if not item.stored:
                continue  # a count is no column: answered from the rows it counts
            if previous is not None and not previous.stored:
                previous = None  # a count made a field of its own: a new column
            onto = item.renamed_from
            if previous and onto and before.field(onto) and not after.field(onto):
                problems.append(
                    f"{new.path}:{item.line}: {name}.{item.name} is 'renamed from {onto}', but"
                    f" the built doc has both fields: the rename would drop {onto}'s data;"
                    " rename one step at a time"
                )
                continue
            renamed = previous is None and item.renamed_from is not None
            if renamed:
                previous = before.field(item.renamed_from or "")
            if previous is None:
                change.added.append(item)
                continue
            if renamed and item.type.kind == "refs":
                problems.append(
                    f"{new.path}:{item.line}: {name}.{item.name} is a refs field 'renamed from"
                    f" {previous.name}'; its link table is named after it, so it cannot be"
                    " renamed (add the new field, copy the pairs, remove the old one)"
                )
                continue
            if _kind_of(previous) != _kind_of(item):
                problems.append(
                    f"{new.path}:{item.line}: {name}.{item.name} changes type from"
                    f" {_type_words(previous)} to {_type_words(item)}; a field keeps its"
                    " kind (add a new field, copy the data, remove the old one)"
                )
            elif renamed:  # changed too: its constraints bear its name
                change.renamed.append((previous, item))
                change.changed.append((previous, item))
            elif item.type.kind == "refs":
                continue  # its count bound is an input rule: its link table stays as it is
            elif (
                column_of(previous, before, everyone=was).shape()
                != column_of(item, after, everyone=now).shape()
            ):
                change.changed.append((previous, item))
        kept = {old.name for old, _ in change.renamed}
        kept |= {item.name for item in after.fields if item.stored}
        change.removed = [item for item in before.fields if item.name not in kept and item.stored]
        if change:
            changes.append(change)
    if problems:
        raise GenerationError(problems)
    return changes


def _kind_of(item: ModelField) -> tuple[str, str | None, str | None]:
    """What a field keeps through a change: its kind, reference, and a list's item kind."""
    element = item.type.item.kind if item.type.item is not None else None
    return item.type.kind, item.type.ref, element


def parse_built_doc(built: Built, doc_path: Path, known_models: frozenset[str]) -> FeatureDoc:
    """The doc as it was last built (its problems named after `<doc> (as built)`)."""
    as_built = doc_path.with_name(f"{doc_path.name} (as built)")
    return parse_doc_text(built.doc_text, as_built, known_models)


# ------------------------------------------------------------------ the migration


@dataclass(frozen=True)
class Operation:
    """One statement of a `batch_alter_table` block: its kind (rename, alter, add, require,
    drop, drop_check, create_check, drop_reference, create_reference, drop_unique,
    create_unique, drop_gin, create_gin; see
    templates/migration_ops.jinja) and its column (after, and before for a rename or alter)."""

    kind: str
    column: Column
    before: Column | None = None


@dataclass(frozen=True)
class Refusal:
    """Rows of the table matching `where` stop the migration: they `problem`."""

    where: str
    problem: str


@dataclass(frozen=True)
class Fill:
    """Rows given the column's value by an UPDATE (all of them, or only its nulls): `value`
    as a Python value, its field's `kind` saying how the migration writes it."""

    column: Column
    kind: str
    value: object
    only_nulls: bool


@dataclass(frozen=True)
class TableSteps:
    """What one direction of a change migration does to one table, in this order."""

    table: str
    refusals: list[Refusal]
    first: list[Operation]
    """Constraints dropped, columns renamed and added."""
    fills: list[Fill]
    last: list[Operation]
    """Columns altered and dropped, constraints created."""
    dropped_links: list[Link] = field(default_factory=list)
    """Link tables of removed `refs` fields, dropped first."""
    created_links: list[Link] = field(default_factory=list)
    """Link tables of new `refs` fields, created last."""
    dropped_indexes: ListIndexes = field(default_factory=ListIndexes)
    """List indexes no list needs any more, dropped before the columns change."""
    created_indexes: ListIndexes = field(default_factory=ListIndexes)
    """List indexes a list needs now, created once the columns are there."""
    dropped_members: Members | None = None
    """The members table of a model no longer shared, dropped first."""
    created_members: Members | None = None
    """The members table of a model now shared, created last, with each row's creator as
    its admin."""


def table_steps(change: TableChange, reverse: bool) -> TableSteps:
    """What takes `change.table` from the built doc's columns to the changed doc's (or back,
    when `reverse`): counts first, then drops and renames, fills, the rest."""
    table, model = change.table, change.model
    added, removed = change.added, change.removed
    pairs = [(old, new) for old, new in change.changed]
    renamed = {new.name: old.name for old, new in change.renamed}
    if reverse:
        added, removed = removed, added
        pairs = [(new, old) for old, new in pairs]
        renamed = {old: new for new, old in renamed.items()}
    was, now = change.everyone[::-1] if reverse else change.everyone
    dropped, created = change.index_changes(reverse)
    members_before, members_after = change.members[::-1] if reverse else change.members
    if members_before == members_after:
        members_before = members_after = None  # the same table (or none): nothing to do
    steps = TableSteps(
        table,
        [],
        [],
        [],
        [],
        dropped_indexes=dropped,
        created_indexes=created,
        dropped_members=members_before,
        created_members=members_after,
    )
    steps.created_links.extend(link_of(model, item) for item in added if item.type.kind == "refs")
    steps.dropped_links.extend(link_of(model, item) for item in removed if item.type.kind == "refs")
    added = [item for item in added if item.type.kind != "refs"]
    removed = [item for item in removed if item.type.kind != "refs"]
    for old, new in pairs:
        old_name = renamed.get(new.name, new.name)
        before = column_of(old, model, old_name, everyone=was)
        after = column_of(new, model, new.name, everyone=now)
        required = before.nullable and not after.nullable
        fill = _fill(new, after, only_nulls=True) if required else None
        if fill is not None:  # rows without a value get the Default now required
            steps.fills.append(fill)
        steps.refusals.extend(_refusals(before, after, nulls_filled=fill is not None))
        if after.unique is not None:
            as_before = tuple(renamed.get(name, name) for name in after.unique)
            if as_before != before.unique:  # a new or wider index: rows that share a value
                steps.refusals.append(_duplicates(table, as_before, after))
        steps.first.extend(_drop_constraints(before, keep=after))
        if old_name != new.name:
            steps.first.append(Operation("rename", after, before))
        if before.type != after.type or before.nullable != after.nullable:
            steps.last.append(Operation("alter", after, before))
        steps.last.extend(_create_constraints(after, keep=before))
    added_names = {item.name for item in added}
    for item in added:
        column = column_of(item, model, everyone=now)
        steps.first.append(Operation("add", column))
        fill = _fill(item, column, only_nulls=False)
        if fill is not None:
            steps.fills.append(fill)
            scope = column.unique[:-1] if column.unique is not None else ()
            if column.unique is not None and not added_names & set(scope):
                steps.refusals.append(_shared_default(table, scope, item, column))
        elif not column.nullable:
            problem = (
                f"have no value for {item.name}, whose column this downgrade restores empty"
                if reverse
                else f"have no value for the new field {item.name}, which may not be null:"
                " give it a Default in the doc"
            )
            if (item.slugged or item.numbered) and not reverse:
                problem = (  # no parentheses: the migration's formatter would split them
                    f"have no {item.name}, which is made only when a row is created; add it"
                    " with its model, before the model has rows"
                )
            steps.refusals.append(Refusal("TRUE", problem))
        if not column.nullable:
            steps.last.append(Operation("require", column))
        steps.last.extend(_create_constraints(column, keep=None))
    for item in removed:
        column = column_of(item, model, everyone=was)
        steps.first.extend(_drop_constraints(column, keep=None))
        steps.last.append(Operation("drop", column))
    return steps


def _refusals(before: Column, after: Column, *, nulls_filled: bool) -> list[Refusal]:
    """Rows of `before` that `after`'s rules refuse, each rule a count of its own."""
    column, checks = f'"{before.name}"', []
    if before.nullable and not after.nullable and not nulls_filled:
        checks.append((f"{column} IS NULL", "have no value"))
    if after.check and after.check != _renamed(before.check, before.name, after.name):
        condition = after.check.replace(f"{after.name} ", f"{column} ", 1)
        checks.append((f"NOT ({condition})", "break the new rule"))
    if after.length is not None and (before.length is None or after.length < before.length):
        checks.append((f"length({column}) > {after.length}", "break the new rule"))
    if after.digits and after.digits != before.digits:
        precision, scale = after.digits
        checks.append(
            (
                f"abs({column}) >= {10 ** (precision - scale)} OR {column} <> round({column},"
                f" {scale})",
                "break the new rule",
            )
        )
    return [Refusal(where, f"{problem} ({after.rule})") for where, problem in checks]


def _duplicates(table: str, columns: tuple[str, ...], after: Column) -> Refusal:
    """Rows that share their value of `after` (its index's `columns`, as the rows name them
    before the change) with another row: a unique index cannot be created over them."""
    field, scope = after.name, columns[:-1]
    words = _scope_words(after.unique or (), " with the same {}", "")
    owner = " of the same owner" if scope == OWNER_SCOPE else ""
    return Refusal(
        _another_row(table, columns),
        f"have the same {field} as another row{owner}{words} ({after.rule})",
    )


def _shared_default(
    table: str, scope: tuple[str, ...], item: ModelField, column: Column
) -> Refusal:
    """Rows that would all get a new unique field's Default: two of them in one scope are
    a duplicate."""
    owner = " of the same owner" if scope == OWNER_SCOPE else ""
    words = _scope_words(column.unique or (), " with the same {}", "")
    return Refusal(
        _another_row(table, scope),
        f"would share the Default of the new field {item.name} with another row{owner}{words}"
        f" ({column.rule})",
    )


def _another_row(table: str, columns: tuple[str, ...]) -> str:
    """SQL: another row of `table` has the same values of `columns` as this one (NULLs are
    never the same, as in a unique index)."""
    same = "".join(f' AND other."{name}" = {table}."{name}"' for name in columns)
    # The names are a doc's table and fields, identifiers the parser checked: no input.
    where = f"other.id <> {table}.id{same}"
    return f"EXISTS (SELECT 1 FROM {table} AS other WHERE {where})"  # noqa: S608


def _renamed(condition: str | None, old: str, new: str) -> str | None:
    return None if condition is None else condition.replace(f"{old} ", f"{new} ", 1)


def _drop_constraints(column: Column, keep: Column | None) -> list[Operation]:
    operations = []
    if column.check_name and column.check_differs(keep):
        operations.append(Operation("drop_check", column))
    if column.ref and column.reference_differs(keep):
        operations.append(Operation("drop_reference", column))
    if column.unique and column.unique_differs(keep):
        operations.insert(0, Operation("drop_unique", column))  # before a rename of its columns
    if column.gin and column.gin_differs(keep):
        operations.insert(0, Operation("drop_gin", column))
    return operations


def _create_constraints(column: Column, keep: Column | None) -> list[Operation]:
    operations = []
    if column.check_name and column.check and column.check_differs(keep):
        operations.append(Operation("create_check", column))
    if column.ref and column.reference_differs(keep):
        operations.append(Operation("create_reference", column))
    if column.unique and column.unique_differs(keep):
        operations.append(Operation("create_unique", column))
    if column.gin and column.gin_differs(keep):
        operations.append(Operation("create_gin", column))
    return operations


def _fill(item: ModelField, column: Column, *, only_nulls: bool) -> Fill | None:
    """What rows that exist before a field is added (or made required) get: its Default
    (`utcnow()`: the upgrade's time); None when there is no such value."""
    if item.type.kind == "list":  # without items: the empty list, never null
        return Fill(column, "list", [], only_nulls)
    if item.authored:  # who wrote a row that exists: its creator
        return Fill(column, "creator", None, only_nulls)
    if item.default in (None, "null", "uuid4()", "current user") or item.slugged or item.numbered:
        return None  # a slug or a number is made at create: rows that exist have none
    kind, default = item.type.kind, item.default
    value: object = default
    if default == "utcnow()":
        if kind != "datetime":
            return None
        value = None
    elif kind == "bool":
        value = default == "true"
    elif kind == "int":
        value = int(default)
    elif kind == "float":
        value = float(default)
    return Fill(column, kind, value, only_nulls)
