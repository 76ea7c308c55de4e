"""Generic async data access over one model. Knows no feature and never commits.

A repository runs SQLAlchemy Core statements on a connection: no ORM session, identity
map or flush per request, one statement per call, and rows go straight to the response
schemas. Statements are built from the model once, on first use, and reused with bound
parameters (SQLAlchemy compiles each shape once and caches it).

Every statement goes through `_scope()`, so a subclass that narrows it (the owner
rule in `OwnedRepository`) narrows reads, updates and deletes alike. The repository's
own parameters start with `_` (`_pk`, `_limit`), so they never clash with a column.
"""

import json
import math
import re
import uuid
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache, cached_property, partial
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Column,
    Delete,
    Insert,
    Integer,
    PrimaryKeyConstraint,
    Select,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    Update,
    Uuid,
    and_,
    any_,
    bindparam,
    delete,
    exists,
    false,
    func,
    insert,
    inspect,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement, Executable
from sqlalchemy.sql.selectable import CTE, NamedFromClause

from src.core.actions import CALLER, NOW, Action, Rule
from src.core.database import Database
from src.core.database import Record as Record  # re-exported: what services return
from src.core.errors import in_words
from src.core.pagination import (
    InvalidCursor,
    PageRequest,
    Sort,
    decode_sorted_cursor,
    split_filter,
)
from src.core.slugs import next_free, slugify
from src.models.base import Entity, OwnedEntity, ValueList, utcnow
from src.models.counter import Counter
from src.models.user import User
from src.repositories.constraints import violated_unique_key
from src.schemas.base import DECIMAL_MAX_LENGTH, INT32

ModelT = TypeVar("ModelT", bound=Entity)
OwnedT = TypeVar("OwnedT", bound=OwnedEntity)
StatementT = TypeVar("StatementT", Select[Any], Update, Delete)
ExecutableT = TypeVar("ExecutableT", bound=Executable)

Versions = Collection[int] | None
"""The versions a conditional write accepts (from `If-Match`); None: any version."""

RowKey = uuid.UUID | Mapping[str, Any]
"""The row a request names: its id, or the columns that single it out, as a nested or keyed
route names it (`{"project_id": ..., "id": ...}`: a task only under that project)."""

_statements: dict[Hashable, Any] = {}

SLUG_ATTEMPTS = 10
"""Creates tried with the next free slug before the clash is answered (a 409): each retry
follows a concurrent create that took the slug first."""

LINK_FILTER_COUNT_LIMIT = 1_000
"""A list filtered by a `refs` field counts its total exactly up to this many rows, then takes
the planner's estimate. Each match counted is a lookup of its row (the owner check) from the
link table's index; 10,000 of them, or the hash join over the whole table the planner turns to
for that many, made page 1 at 1M rows 11x page 1 at 10k (docs/performance.md)."""


SEARCH = "_search"
"""The name of the `q` search among a list's filters (a repository's own name: no column's)."""


def _shape_of(name: str, value: Any) -> tuple[str, Any]:
    """What of a filter changes its statement: its name, and an `isnull`'s value."""
    return (name, value) if split_filter(name)[1] == "isnull" else (name, None)


def _read_value(column: Any, value: Any) -> Any:
    """A sort key's value from a cursor (as JSON holds it) as its column's type; raises
    `InvalidCursor` for one the column could not hold (a cursor is the client's text: one
    this list did not issue must be a 400, never a statement the database refuses)."""
    if value is None:
        return None if column.nullable else _bad_cursor()
    sql_type = getattr(column.type, "impl", column.type)  # a TypeDecorator's own
    kind = sql_type.python_type
    try:
        if kind is bool:
            return value if type(value) is bool else _bad_cursor()
        if kind is int:
            low, high = _INT_RANGES.get(type(sql_type), INT32)
            return value if type(value) is int and low <= value <= high else _bad_cursor()
        if kind is float:
            finite = type(value) in (int, float) and math.isfinite(value)
            return float(value) if finite else _bad_cursor()
        if not isinstance(value, str) or "\x00" in value:
            return _bad_cursor()
        value.encode()  # a lone surrogate is no text a database stores
        if kind is datetime:
            read = datetime.fromisoformat(value)
            return read.astimezone(UTC) if read.tzinfo is not None else _bad_cursor()
        if kind is date:
            return date.fromisoformat(value)
        if kind is Decimal:
            return _decimal_of(sql_type, value)
        if kind is uuid.UUID:
            return uuid.UUID(value)
        length = getattr(sql_type, "length", None)
        return kind(value) if length is None or len(value) <= length else _bad_cursor()
    except (ValueError, TypeError, ArithmeticError):  # OverflowError too
        return _bad_cursor()


def _decimal_of(sql_type: Any, text: str) -> Decimal:
    """A cursor's Decimal, within the column's precision and scale (never rounded)."""
    number = Decimal(text)
    if not number.is_finite() or len(text) > DECIMAL_MAX_LENGTH:
        return _bad_cursor()  # type: ignore[no-any-return]
    precision, scale = sql_type.precision, sql_type.scale or 0
    digits, exponent = len(number.as_tuple().digits), int(number.as_tuple().exponent)
    if precision is not None and (-exponent > scale or digits + exponent > precision - scale):
        return _bad_cursor()  # type: ignore[no-any-return]
    return number


_INT_RANGES = {SmallInteger: (-(2**15), 2**15 - 1), BigInteger: (-(2**63), 2**63 - 1)}
"""The values each integer column holds (INTEGER: `INT32`)."""


def _bad_cursor() -> Any:
    raise InvalidCursor("not a cursor of this list's order; start from the first page")


class _UnusableLink(Exception):
    """An id of a `refs` field names no row the writer may use: the write is rolled back."""


class _WithLinks:
    """A written row answered with the ids its `refs` fields were just given: the write's
    RETURNING ran before the pairs were written, so it holds the ids (and the counts of
    them, `count(labels)`) as they were."""

    __slots__ = ("_counted", "_links", "_row")

    def __init__(
        self, row: Record, links: Mapping[str, Sequence[uuid.UUID]], model: type[Entity]
    ) -> None:
        self._row, self._links = row, links
        field_of = {link.table.name: name for name, link in link_fields(model).items()}
        self._counted = {
            count: len(links[field_of[table]])
            for count, (table, _) in model.counts.items()
            if field_of.get(table) in links
        }

    def __getattr__(self, name: str) -> Any:
        if name in self._links:
            return list(self._links[name])
        if name in self._counted:
            return self._counted[name]
        return getattr(self._row, name)

    def __getitem__(self, key: Any) -> Any:
        return self._row[key]


def dialect_insert(database: Database, table: Any) -> Any:
    """An INSERT that can take ON CONFLICT, in the database's dialect."""
    if database.dialect_name == "postgresql":
        return postgresql_insert(table)
    return sqlite_insert(table)


def built_once(key: Hashable, build: Callable[[], ExecutableT]) -> ExecutableT:
    """The statement `build` makes, built on the first use of `key` and reused after: `key`
    names everything the statement's shape depends on (its repository, dialect, scope)."""
    statement: ExecutableT | None = _statements.get(key)
    if statement is None:
        statement = _statements[key] = build()
    return statement


class Repository(Generic[ModelT]):
    model: type[ModelT]
    owner_id: uuid.UUID | None = None
    """Who new rows belong to; None for tables without owners."""
    viewer_id: uuid.UUID | None = None
    """Who asks, as a row's viewer flags (`favorited`) answer; None: an anonymous caller."""

    def __init__(self, database: Database) -> None:
        self.database = database

    # ------------------------------------------------------------ statement building

    def _scope(self, statement: StatementT) -> StatementT:
        return statement

    def _scope_key(self) -> Hashable:
        """Tells apart the statement shapes `_scope()` can produce."""
        return None

    def _params(self, **params: Any) -> dict[str, Any]:
        """Bound parameters for a statement, plus those `_scope()` added."""
        return params

    def _row_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return dict(values)

    def _statement(self, key: Hashable, build: Callable[[], ExecutableT]) -> ExecutableT:
        return built_once((type(self), self.database.dialect_name, key, self._scope_key()), build)

    @cached_property
    def _columns(self) -> list[Any]:
        """What a row is answered with: its columns and the ids of each `refs` field, read
        in the same statement (`_ids_of`)."""
        return self._columns_of(self.model)

    def _columns_of(self, model: type[Entity]) -> list[Any]:
        """A row of `model` as its own GET answers it (also a row `expand` embeds)."""
        links = link_fields(model)
        counts = [self._count_of(name, model) for name in model.counts]
        flags = [self._viewer_flag(name, model) for name in model.viewer_flags]
        ids = [self._ids_of(name, model) for name in links]
        return [*model.__table__.columns, *ids, *counts, *flags]

    @staticmethod
    def _viewer_flag(name: str, model: type[Entity]) -> ColumnElement[Any]:
        """`current user in favorited_by` as one value of the row: whether the link table
        pairs the row with the `_viewer` parameter (never, for NULL: an anonymous caller),
        served by the link table's primary key."""
        link = link_fields(model)[model.viewer_flags[name]]
        pairs = link.table.alias(f"viewer_{name}")
        row_id: ColumnElement[Any] = literal_column(f"{model.__tablename__}.id")  # see _count_of
        viewer = bindparam("_viewer", type_=Uuid)
        held = exists().where(
            pairs.c[link.source.name] == row_id, pairs.c[link.target.name] == viewer
        )
        return held.label(name)

    @staticmethod
    def _count_of(name: str, model: type[Entity]) -> ColumnElement[Any]:
        """A count field as one value of the row: the rows of another table whose column
        names it (`SELECT count(*) FROM comments WHERE card_id = cards.id`), exact at every
        read and served by that column's index (every `ref` column leads one)."""
        table, column = model.counts[name]
        counted = model.metadata.tables[table].alias(f"counted_{name}")
        # The row by its table's name as text: in a RETURNING clause SQLAlchemy writes columns
        # without their table on SQLite, where `id` would then be the counted row's own id.
        row_id: ColumnElement[Any] = literal_column(f"{model.__tablename__}.id")
        found = select(func.count()).select_from(counted).where(counted.c[column] == row_id)
        return found.scalar_subquery().label(name)

    def _ids_of(self, name: str, model: type[Entity]) -> ColumnElement[Any]:
        """The ids a row's `refs` field holds, in the order sent, as one value of the row:
        an array on PostgreSQL, a JSON array on SQLite (read back as a list)."""
        link = link_fields(model)[name]
        ids = (
            select(link.target)
            .where(link.source == model.id)
            .order_by(link.table.c.position)
            .correlate(model)
        )
        if self.database.dialect_name == "postgresql":
            return func.array(ids.scalar_subquery()).label(name)
        listed = ids.subquery()
        aggregated = select(func.json_group_array(listed.c[link.target.name])).correlate(model)
        return type_coerce(aggregated.scalar_subquery(), JSON).label(name)

    def _given_ids(self) -> NamedFromClause:
        """The ids of one `refs` field as sent (the `_ids` parameter), each with its place:
        a table of (value, position)."""
        if self.database.dialect_name == "postgresql":
            given = bindparam("_ids", type_=ARRAY(Uuid))
            return (
                func.unnest(given)
                .table_valued("value", with_ordinality="position")
                .render_derived(name="given")
            )
        return func.json_each(bindparam("_ids")).table_valued("key", "value").alias("given")

    def _ids_param(self, ids: Sequence[uuid.UUID]) -> Any:
        """`_ids` as `_given_ids()` reads it: SQLite stores a UUID as its 32 hex digits."""
        if self.database.dialect_name == "postgresql":
            return list(ids)
        return json.dumps([id.hex for id in ids])

    def _link_holds(self, target: Any, owner: Any) -> list[ColumnElement[bool]]:
        """Conditions that a `refs` target row may be used by a row of `owner` (see
        `OwnedRepository`)."""
        return []

    def _usable_ids(self, name: str, owner: Any) -> Select[Any]:
        """The sent ids of `name` that name a row a row of `owner` may use, with their place."""
        link = link_fields(self.model)[name]
        given = self._given_ids()
        target = aliased(link.target_model, name="target")
        position = given.c.position if self.database.dialect_name == "postgresql" else given.c.key
        return select(given.c.value, position.label("position")).where(
            exists().where(target.id == given.c.value, *self._link_holds(target, owner))
        )

    async def _write_links(
        self, row: Record, links: Mapping[str, Sequence[uuid.UUID]], *, replace: bool
    ) -> None:
        """Pair `row` with the ids of each `refs` field in `links` (its former pairs deleted
        first, when `replace`). Raises `_UnusableLink` if an id names no usable row."""
        for name, ids in links.items():
            link = link_fields(self.model)[name]
            if replace:
                unlink = self._statement(
                    ("unlink", name),
                    lambda link=link: delete(link.table).where(  # type: ignore[misc]
                        link.source == bindparam("_source")
                    ),
                )
                await self.database.write(unlink, {"_source": row.id})
            if not ids:
                continue

            def build(name: str = name, link: "Link" = link) -> Insert:
                owner = bindparam("_owner", type_=Uuid)
                usable = self._usable_ids(name, owner).subquery()
                source = select(bindparam("_source", type_=Uuid), usable.c.value, usable.c.position)
                columns = [link.source.name, link.target.name, "position"]
                return insert(link.table).from_select(columns, source).returning(link.target)

            statement = self._statement(("link", name), build)
            params = {
                "_source": row.id,
                "_owner": getattr(row, "owner_id", None),
                "_ids": self._ids_param(ids),
            }
            if len(await self.database.write_all(statement, params)) != len(ids):
                raise _UnusableLink(name)

    def _split(
        self, values: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Sequence[uuid.UUID]]]:
        """(the row's column values, the ids of each `refs` field) of `values`."""
        fields = link_fields(self.model)
        columns = {name: value for name, value in values.items() if name not in fields}
        return columns, {name: value for name, value in values.items() if name in fields}

    def _condition(self, name: str, value: Any) -> ColumnElement[bool]:
        """A list filter by its name: `priority` (the column equals the parameter; for a
        `refs` field, the row has that id, served by the link table's index that leads with
        the target; for a `list` field, the row's list holds that item, a GIN index on
        PostgreSQL), `priority__gte` (an operator of `OPERATORS`; `tags__contains` on a list
        as `tags`), or `SEARCH`. Each compares with a parameter of the filter's name;
        `isnull` is part of the shape."""
        if name == SEARCH:
            fields = self.model.search_fields
            return or_(*(self._contains(self.model.__table__.c[f], SEARCH) for f in fields))
        field, operator = split_filter(name)
        link = link_fields(self.model).get(field)
        if link is not None:
            return exists().where(link.source == self.model.id, link.target == bindparam(name))
        column = self.model.__table__.c[field]
        if isinstance(column.type, ValueList) and operator in (None, "contains"):
            item = bindparam(name, type_=column.type.item)  # the row's list holds this item
            return column.type.holds(column, item, self.database.dialect_name)  # type: ignore[no-any-return]
        if operator is None:
            return column == bindparam(name)
        if operator == "isnull":
            return column.is_(None) if value else column.is_not(None)
        if operator == "contains":
            return self._contains(column, name)
        if operator == "in":
            if self.database.dialect_name == "postgresql":  # one array parameter, one plan
                return column == any_(bindparam(name, type_=ARRAY(column.type)))
            return column.in_(bindparam(name, expanding=True))
        if operator == "ne":  # a null is not the value either
            return column.is_distinct_from(bindparam(name, type_=column.type))
        compare = {"gte": "__ge__", "gt": "__gt__", "lte": "__le__", "lt": "__lt__"}[operator]
        return getattr(column, compare)(bindparam(name, type_=column.type))  # type: ignore[no-any-return]

    def _contains(self, column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
        """The text holds the parameter, ignoring case: `ILIKE` on PostgreSQL (served by a
        trigram index), a Unicode-aware lower-case `instr` on SQLite (its own `lower` folds
        ASCII only). The parameter is the text as a pattern (`_filter_params`)."""
        if self.database.dialect_name == "postgresql":
            return column.ilike(bindparam(name), escape="\\")
        return func.instr(func.unicode_lower(column), bindparam(name)) > 0

    def _filter_params(self, criteria: Mapping[str, Any]) -> dict[str, Any]:
        """Each filter's parameter, as its condition compares it."""
        params = {}
        for name, value in criteria.items():
            field, operator = (name, "contains") if name == SEARCH else split_filter(name)
            if operator == "isnull":
                continue
            if operator == "contains" and not self._holds_items(field):
                if self.database.dialect_name == "postgresql":
                    value = "%" + re.sub(r"([\\%_])", r"\\\1", value) + "%"
                else:
                    value = value.lower()
            elif operator == "in":
                value = list(value)
            params[name] = value
        return params

    def _holds_items(self, field: str) -> bool:
        """Whether `field` is a `list` column (its `contains` is of an item, not of text)."""
        column = self.model.__table__.c.get(field)
        return column is not None and isinstance(column.type, ValueList)

    def _target(
        self, versions: Versions, key: Sequence[str] = ("id",)
    ) -> list[ColumnElement[bool]]:
        """The row a write aims at: these key columns (its id, or its parent and id) and, for
        a conditional write, one of these versions.

        The version is compared by the database in the same statement that writes, so
        of two writers holding the same version exactly one matches.
        """
        columns = self.model.__table__.c
        conditions = [
            self.model.id == bindparam("_pk")
            if name == "id"
            else columns[name] == bindparam(f"_key_{name}", type_=columns[name].type)
            for name in key
        ]
        if versions is None:
            return conditions
        if self.database.dialect_name == "postgresql":  # one array parameter, one plan
            accepted = bindparam("_versions", type_=ARRAY(Integer))
            conditions.append(self.model.version == any_(accepted))
        else:
            conditions.append(self.model.version.in_(bindparam("_versions", expanding=True)))
        return conditions

    def _key(self, id: RowKey) -> dict[str, Any]:
        """The columns a request's key compares (`OwnedRepository` adds the owner)."""
        return key_of(id)

    def _target_params(self, key: RowKey, versions: Versions) -> dict[str, Any]:
        params = {
            "_pk" if name == "id" else f"_key_{name}": v for name, v in self._key(key).items()
        }
        if versions is None:
            return self._params(**params)
        return self._params(**params, _versions=sorted(versions))

    def _references_in(self, values: Mapping[str, Any]) -> tuple[str, ...]:
        """The checked references among `values` (see `OwnedRepository`)."""
        return ()

    def _references_hold(
        self, names: Sequence[str], *, updating: bool
    ) -> list[ColumnElement[bool]]:
        """Conditions, inside the writing statement, that the references in `names` hold."""
        return []

    async def missing_reference(
        self, values: Mapping[str, Any], owner_id: Any, row: Record | None = None
    ) -> str | None:
        """The model a reference in `values` names no usable row of, to explain a miss
        (`row`: the row an update missed; None for a create)."""
        return None

    async def write_refused(
        self, values: Mapping[str, Any], row: Record | None = None
    ) -> str | None:
        """Why the caller may not make this write although they may read what it names (a
        viewer of a shared container, `SharedRepository`); None: no such reason."""
        return None

    def _embeddable(self, target: type[Entity]) -> ColumnElement[bool] | None:
        """The rows of `target` the caller may read, embedded by `expand`: a condition, or
        None when they may read none. Here every row (tables without owners)."""
        return true()

    async def cyclic_reference(self, id: uuid.UUID, values: Mapping[str, Any]) -> str | None:
        """The reference in `values` that would make the row `id` its own ancestor."""
        return None

    async def visible(self, id: uuid.UUID) -> bool:
        """Whether the caller may see row `id`: what a nested route asks of its parent."""
        return await self.get(id) is not None

    # ------------------------------------------------------------------- execution

    async def _read(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Record]:
        return await self.database.read(statement, {**params, "_viewer": self.viewer_id})

    async def _one(self, statement: Executable, params: Mapping[str, Any]) -> Record | None:
        return await self.database.write(statement, {**params, "_viewer": self.viewer_id})

    # ------------------------------------------------------------------ operations

    async def get(self, id: RowKey, versions: Versions = None) -> Record | None:
        key = tuple(self._key(id))
        statement = self._statement(
            ("get", versions is None, key),
            lambda: self._scope(select(*self._columns).where(*self._target(versions, key))),
        )
        rows = await self._read(statement, self._target_params(id, versions))
        return rows[0] if rows else None

    async def list(
        self,
        page: PageRequest,
        filters: Mapping[str, Any] | None = None,
        *,
        sort: Sort | None = None,
        search: str | None = None,
    ) -> tuple[Sequence[Record], int, bool]:
        """One page (plus one row, to tell if more follow), the total and whether it is
        exact, in one statement.

        Rows come in creation order, or in `sort`'s (nulls after every value, the id
        breaking ties). On PostgreSQL the total is counted exactly up to
        `page.count_limit` rows; past it the planner's estimate is taken instead (one more
        statement), so a page costs about the same on a table of any size. A page after a
        cursor starts at the cursor's position through the index of its order, never by
        skipping rows. `filters` are conditions by name: `priority` (equals),
        `priority__gte` (an operator, `OPERATORS`); a None value means "no filter".
        `search` is a case-insensitive substring of any of the model's `search_fields`.
        """
        criteria = {name: value for name, value in (filters or {}).items() if value is not None}
        if search is not None:
            criteria[SEARCH] = search
        position = self._position(page, sort)
        count_limit = page.count_limit if self.database.dialect_name == "postgresql" else None
        if count_limit is not None and set(criteria) & set(link_fields(self.model)):
            count_limit = min(count_limit, LINK_FILTER_COUNT_LIMIT)
        bounded = count_limit is not None
        shape = tuple(sorted(_shape_of(name, value) for name, value in criteria.items()))

        def conditions() -> Sequence[ColumnElement[bool]]:
            return [self._condition(name, value) for name, value in criteria.items()]

        def matching() -> Select[Any]:
            return self._scope(select(self.model.id).where(*conditions()))

        def counted() -> Select[Any]:
            return matching().limit(bindparam("_count_limit")) if bounded else matching()

        def page_with_total() -> Select[Any]:
            total = select(func.count()).select_from(counted().subquery()).scalar_subquery()
            rows = select(*self._columns, total.label("_total")).where(*conditions())
            if position is not None:
                rows = rows.where(self._after(sort, position))
            ordered: Select[Any] = self._scope(rows).order_by(*self._order_by(sort))
            ordered = ordered.limit(bindparam("_limit"))
            return ordered if position is not None else ordered.offset(bindparam("_offset"))

        filtered = self._params(**self._filter_params(criteria))
        params = dict(filtered)
        if count_limit is not None:
            params["_count_limit"] = count_limit + 1
        keyset = None if position is None else tuple(value is None for value in position)
        order = None if sort is None else sort.text
        statement = self._statement(("list", shape, order, keyset, bounded), page_with_total)
        at = (
            {f"_after_{index}": value for index, value in enumerate(position)}
            if position is not None
            else {"_offset": page.offset}
        )
        rows = await self._read(statement, {**params, **at, "_limit": page.limit + 1})
        if rows:
            total = rows[0]._total
        elif position is None and page.offset == 0:
            total = 0  # the first page is empty: nothing to count
        else:  # past the end: the total still counts
            count = self._statement(
                ("count", shape, bounded),
                lambda: select(func.count()).select_from(counted().subquery()),
            )
            total = (await self._read(count, params))[0][0]
        if count_limit is not None and total > count_limit:
            matched = self._statement(("matching", shape), matching)
            estimate = await self.database.estimate(matched, filtered)
            return rows, max(estimate, total), False
        return rows, total, True

    def _order_by(self, sort: Sort | None) -> Sequence[ColumnElement[Any]]:
        """Creation order, or `sort`'s keys with nulls after every value (first, descending:
        as PostgreSQL's B-tree keeps them, so its index serves both directions), then the id
        in the last key's direction."""
        if sort is None:
            return [self.model.created_at, self.model.id]  # type: ignore[list-item]
        order: list[Any] = []
        for key in sort.keys:
            column = self.model.__table__.c[key.name]
            if not column.nullable:
                order.append(column.desc() if key.descending else column.asc())
            else:
                order.append(
                    column.desc().nulls_first() if key.descending else column.asc().nulls_last()
                )
        descending = sort.keys[-1].descending
        order.append(self.model.id.desc() if descending else self.model.id.asc())
        return order

    def _position(self, page: PageRequest, sort: Sort | None) -> tuple[Any, ...] | None:
        """The values of the order's keys (then the id) that the page's cursor names, read as
        their columns' types; None without a cursor. Raises `InvalidCursor`."""
        if sort is None:
            return page.after()
        if page.cursor is None:
            return None
        values, id = decode_sorted_cursor(page.cursor, sort.text)
        if len(values) != len(sort.keys):
            raise InvalidCursor("not a cursor of this sort; start from the first page")
        columns = self.model.__table__.c
        keys = zip(sort.keys, values, strict=True)
        return (*(_read_value(columns[key.name], value) for key, value in keys), id)

    def _after(self, sort: Sort | None, position: tuple[Any, ...]) -> ColumnElement[bool]:
        """Rows after `position` in the order: for one direction and no nulls a row value
        comparison, `(created_at, id) > (:a, :b)`, that an index serves as a range;
        otherwise key by key, `a > :a OR (a = :a AND (...))`, null being after every value,
        led by the first key's range so an index still narrows the scan."""
        columns: Any = (
            [self.model.created_at]
            if sort is None
            else [self.model.__table__.c[key.name] for key in sort.keys]
        )
        descending = [False] if sort is None else [key.descending for key in sort.keys]
        columns.append(self.model.id)
        descending.append(descending[-1])
        params = [
            bindparam(f"_after_{index}", type_=column.type) for index, column in enumerate(columns)
        ]
        plain = len(set(descending)) == 1 and all(
            not column.nullable and value is not None
            for column, value in zip(columns, position, strict=True)
        )
        if plain:
            row, at = tuple_(*columns), tuple_(*params)
            return row < at if descending[0] else row > at
        condition: ColumnElement[bool] | None = None
        for column, param, value, down in reversed(
            list(zip(columns, params, position, descending, strict=True))
        ):
            if value is None:  # nulls sort after every value
                beyond: ColumnElement[bool] = column.is_not(None) if down else false()
                same: ColumnElement[bool] = column.is_(None)
            else:
                beyond = column < param if down else column > param
                if column.nullable and not down:
                    beyond = or_(beyond, column.is_(None))
                same = column == param
            condition = beyond if condition is None else or_(beyond, and_(same, condition))
        assert condition is not None
        first, value, down = columns[0], position[0], descending[0]
        if value is not None and not first.nullable:
            condition = and_(first <= params[0] if down else first >= params[0], condition)
        return condition

    async def create(self, values: Mapping[str, Any]) -> Record | None:
        """The row `_insert` writes; on a model with a slug, with its slug made from its
        field, and the next free one (`-2`, `-3`) when another row has it, also when a
        concurrent create took it first (the unique index tells: the INSERT is tried again)."""
        if not self.model.slugs:
            return await self._insert(values)
        made = {slug: slugify(values.get(field) or "") for slug, field in self.model.slugs.items()}
        values = {**values, **made}
        for attempt in range(SLUG_ATTEMPTS):
            try:
                async with self.database.savepoint():  # in a transaction, it goes on
                    return await self._insert(values)
            except IntegrityError as error:
                broken = violated_unique_key(error)
                slug = broken[1][-1] if broken and broken[0] == self.model.__name__ else None
                if slug not in made or attempt == SLUG_ATTEMPTS - 1:
                    raise
                values[slug] = next_free(made[slug], await self._slugs_like(slug, made[slug]))
        raise AssertionError("unreachable")

    async def _slugs_like(self, name: str, base: str) -> Sequence[str]:
        """The slugs `base` and `base-N` that rows in the slug's scope (the owner's rows, or
        every row on a model whose reads are public) already have."""
        column = self.model.__table__.c[name]
        owned = owner_keyed(self.model, frozenset({name}))

        def build() -> Select[Any]:
            found = select(column).where(
                or_(column == bindparam("_base"), column.like(bindparam("_numbered")))
            )
            owner = self.model.__table__.c["owner_id"] if owned else None
            return found if owner is None else found.where(owner == bindparam("_owner"))

        statement = self._statement(("slugs", name), build)
        params = {"_base": base, "_numbered": f"{base}-%", "_owner": self.owner_id}
        return [row[0] for row in await self._read(statement, params)]

    async def _insert(self, values: Mapping[str, Any]) -> Record | None:
        """One INSERT ... RETURNING. None when a reference names a row the owner may not
        use: that check is part of the statement (`INSERT ... SELECT ... WHERE EXISTS`).

        With ids for a `refs` field, the row and its pairs (one INSERT per field, each
        `INSERT ... SELECT` of the usable ids) are one transaction; an id that names no
        usable row rolls it back and None is returned.

        A number field (`next(card_id)`) takes the next value of its counter: on PostgreSQL
        in the same statement (the counter's upsert as a CTE, run only when the references
        hold), on SQLite by the upsert before it, in one transaction."""
        values, links = self._split(values)
        row = {**scalar_defaults(self.model), **self._row_values(values)}
        row.setdefault("id", uuid.uuid4())
        row.setdefault("updated_at", row.setdefault("created_at", utcnow()))
        counted_here = self.database.dialect_name == "postgresql"
        numbers = self.model.numbers
        row |= {f"_counter_{name}": f"{self.model.__tablename__}.{name}" for name in numbers}
        columns = tuple(name for name in row if not name.startswith("_"))
        if not counted_here:  # SQLite: each number is a parameter, counted just before
            columns += tuple(numbers)
        references = self._references_in(values)

        def build() -> Insert:
            if not references and not numbers:
                return insert(self.model).values({name: bindparam(name) for name in columns})
            types = self.model.__table__.c
            holds = self._references_hold(references, updating=False)
            given = [bindparam(name, type_=types[name].type).label(name) for name in columns]
            if not (numbers and counted_here):
                source = select(*given).where(*holds)
                return insert(self.model).from_select(list(columns), source)
            counters = [
                self._count_up(name, scope, holds).cte(f"next_{name}")
                for name, scope in numbers.items()
            ]
            counted = [c.c.value.label(name) for name, c in zip(numbers, counters, strict=True)]
            source = select(*given, *counted).select_from(*counters)
            written = insert(self.model).from_select([*columns, *numbers], source)
            return written.add_cte(*counters)

        shape = ("create", columns, counted_here)
        statement = self._statement(shape, lambda: self._returning(build()))
        if not any(links.values()) and (counted_here or not numbers):
            return await self._one(statement, row)
        try:
            async with self.database.transaction():
                for name, scope in numbers.items() if not counted_here else ():
                    counter = self._statement(
                        ("count_up", name), partial(self._count_up, name, scope, [])
                    )
                    row[name] = (await self.database.write_all(counter, row))[0][0]
                created = await self._one(statement, row)
                if created is None:
                    raise _UnusableLink("")  # a reference names no usable row: all undone
                await self._write_links(created, links, replace=False)
        except _UnusableLink:
            return None
        return _WithLinks(created, links, self.model)

    def _returning(self, written: Insert) -> Any:
        """The create's statement, answering the row as its GET does."""
        return written.returning(*self._columns)

    def _count_up(self, name: str, scope: str, holds: Sequence[ColumnElement[bool]]) -> Insert:
        """The next number of `name` within the row's `scope` (its parent, or its owner):
        `INSERT INTO counters ... ON CONFLICT (name, scope) DO UPDATE SET value = value + 1
        RETURNING value`, the counter's row locked until the create commits, so two creates
        never take one number. Past the highest number the scope's rows hold, too (one
        probe of their unique index), so rows numbered before the counter (a field renamed,
        or made a number, by a changed doc) are never clashed with. Nothing is counted when
        `holds` does not."""
        table = self.model.__table__
        scoped = table.c[scope] == bindparam(scope, type_=Uuid)
        past_rows = select(func.coalesce(func.max(table.c[name]), 0) + 1).where(scoped)
        given = select(
            bindparam(f"_counter_{name}", type_=String),
            bindparam(scope, type_=Uuid),
            past_rows.scalar_subquery(),
        ).where(*holds)
        counting = self._dialect_insert(Counter).from_select(["name", "scope", "value"], given)
        larger = func.greatest if self.database.dialect_name == "postgresql" else func.max
        bumped = counting.on_conflict_do_update(
            index_elements=["name", "scope"],
            set_={"value": larger(Counter.value + 1, counting.excluded.value)},
        )
        counted: Insert = bumped.returning(Counter.value)
        return counted

    def _dialect_insert(self, table: Any) -> Any:
        return dialect_insert(self.database, table)

    async def update(
        self, id: RowKey, values: Mapping[str, Any], versions: Versions = None
    ) -> Record | None:
        """One UPDATE ... RETURNING that also bumps `version`; None if no row matched.

        A `refs` field in `values` replaces the row's whole set: the UPDATE, then per field
        a DELETE of its pairs and an INSERT of the new ones, in one transaction (rolled back,
        None returned, if an id names no usable row)."""
        values, links = self._split(values)
        if not values and not links:
            return await self._unchanged(id, versions)
        columns = tuple(sorted(values))
        references = self._references_in(values)
        key = tuple(self._key(id))
        statement = self._statement(
            ("update", columns, versions is None, key),
            lambda: self._change(columns, key, versions, references),
        )
        params = {**values, **self._target_params(id, versions), "_now": utcnow()}
        if not links:
            return await self._one(statement, params)
        try:
            async with self.database.transaction():
                updated = await self._one(statement, params)
                if updated is None:
                    return None
                await self._write_links(updated, links, replace=True)
        except _UnusableLink:
            return None
        return _WithLinks(updated, links, self.model)

    async def _unchanged(self, id: RowKey, versions: Versions) -> Record | None:
        """What an update with nothing to change answers: the row, if the caller may write
        it and it has one of `versions`."""
        return await self.get(id, versions)

    def _change(
        self,
        columns: Sequence[str],
        key: Sequence[str],
        versions: Versions,
        references: Sequence[str],
        rules: Sequence[ColumnElement[bool]] = (),
        assigned: Mapping[str, Any] | None = None,
    ) -> Update:
        """What every change of one row is: `UPDATE ... SET <columns from parameters, the
        assigned values>, updated_at, version + 1 WHERE <key, owner, version, references,
        rules> RETURNING` the row."""
        return (
            self._scope(
                update(self.model).where(
                    *self._target(versions, key),
                    *rules,
                    *self._references_hold(references, updating=True),
                )
            )
            .values(
                {
                    **{name: bindparam(name) for name in columns},
                    **(assigned or {}),
                    "updated_at": bindparam("_now"),
                    "version": self.model.version + 1,
                }
            )
            .returning(*self._columns)
        )

    async def act(
        self, id: RowKey, action: Action, values: Mapping[str, Any], versions: Versions = None
    ) -> Record | None:
        """One UPDATE ... RETURNING: the action's rules, the key, the owner rule, the version
        and the body's references, all in its WHERE, so that of two concurrent actions whose
        write breaks their rule exactly one matches. None if no row matched."""
        columns = tuple(sorted(values))
        references = self._references_in(values)
        key = tuple(self._key(id))
        table = self.model.__table__.c

        def build() -> Update:
            made = {NOW: bindparam("_now"), CALLER: bindparam("_caller", type_=Uuid)}
            assigned: dict[str, Any] = {
                name: made.get(value, bindparam(f"_set_{name}"))
                for name, value in action.sets.items()
            }
            rules = [
                self._rule(table[rule.field], rule, f"_when_{i}")
                for i, rule in enumerate(action.when)
            ]
            return self._change(columns, key, versions, references, rules, assigned)

        statement = self._statement(("act", action.shape, columns, versions is None, key), build)
        params = {
            **values,
            **{f"_set_{name}": v for name, v in action.sets.items() if v not in (NOW, CALLER)},
            "_caller": self.viewer_id,
            **{
                f"_when_{i}": rule.value
                for i, rule in enumerate(action.when)
                if rule.value is not None
            },
            **self._target_params(id, versions),
            "_now": utcnow(),
        }
        return await self._one(statement, params)

    async def join_or_leave(
        self, id: RowKey, action: Action, versions: Versions = None
    ) -> tuple[Record | None, bool]:
        """The caller (`viewer_id`) joins or leaves the action's `refs(User)` field of a row
        they may read: (the row, whether it changed), or (None, False) if they cannot read
        it. The pair is written (an INSERT ... SELECT of the readable row, ON CONFLICT DO
        NOTHING: joined twice is joined once; or a DELETE) and the row's version bumped when
        it changed, in one statement on PostgreSQL (the INSERT as a CTE of the UPDATE), in
        one transaction on SQLite; then the row is read, with its counts and flags as they
        now are (a CTE's own changes are not visible to its statement's RETURNING)."""
        change = action.caller_change
        assert change is not None
        name, joins = change
        link = link_fields(self.model)[name]
        key = tuple(self._key(id))
        caller = bindparam("_caller", type_=Uuid)

        def pair() -> Any:
            readable = self._readable(select(self.model.id).where(*self._target(versions, key)))
            if versions is not None and self.database.dialect_name == "postgresql":
                # Locked: a write that commits first makes the version read again (412).
                readable = readable.with_for_update()
            if not joins:
                leave = delete(link.table).where(link.target == caller)
                return leave.where(link.source.in_(readable)).returning(link.source)
            last = select(func.coalesce(func.max(link.table.c.position), 0) + 1)
            place = last.where(link.source == self.model.id).scalar_subquery()
            source = readable.add_columns(caller, place)
            columns = [link.source.name, link.target.name, "position"]
            joined = self._dialect_insert(link.table).from_select(columns, source)
            return joined.on_conflict_do_nothing().returning(link.source)

        def bump(changed: Any) -> Update:
            touched = update(self.model).where(self.model.id.in_(changed))
            values = {"updated_at": bindparam("_now"), "version": self.model.version + 1}
            return touched.values(values).returning(self.model.id)

        params = {**self._target_params(id, versions), "_caller": self.viewer_id, "_now": utcnow()}
        shape = ("pair", name, joins, versions is None, key)
        if self.database.dialect_name == "postgresql":
            paired = self._statement(
                (*shape, "bumped"), lambda: bump(select(pair().cte("paired").c[0]))
            )
            changed = bool(await self.database.write_all(paired, params))
        else:
            async with self.database.transaction():
                pairs = await self.database.write_all(self._statement(shape, pair), params)
                if pairs:
                    bumped = self._statement(
                        ("bump",), lambda: bump([bindparam("_row", type_=Uuid)])
                    )
                    await self.database.write_all(bumped, {"_row": pairs[0][0], "_now": utcnow()})
            changed = bool(pairs)
        return await self.readable(id), changed

    def _readable(self, statement: Select[Any]) -> Select[Any]:
        """`statement` narrowed to the rows the caller may read (`OwnedRepository`)."""
        return statement

    async def readable(self, id: RowKey) -> Record | None:
        """The row, if the caller may read it (a public model's, for anyone)."""
        key = tuple(self._key(id))
        statement = self._statement(
            ("readable", key),
            lambda: self._readable(select(*self._columns).where(*self._target(None, key))),
        )
        rows = await self._read(statement, self._target_params(id, None))
        return rows[0] if rows else None

    @staticmethod
    def _rule(column: Any, rule: Rule, name: str) -> ColumnElement[bool]:
        """A `When` rule as SQL: `!=` counts null as unequal (`IS DISTINCT FROM`)."""
        if rule.operator == "is null":
            condition: ColumnElement[bool] = column.is_(None)
        elif rule.operator == "is not null":
            condition = column.is_not(None)
        else:
            value = bindparam(name, type_=column.type)
            condition = column == value if rule.operator == "=" else column.is_distinct_from(value)
        return condition

    async def expand(self, rows: Sequence[Record], names: Sequence[str]) -> Sequence[Record]:
        """`rows`, each with the rows named in `names` embedded: a reference `project_id` as
        `project` beside it, a `refs` field `labels` as its rows in place of the ids, in their
        order. One statement per name, whatever the number of rows, and only rows the caller
        may read (`_embeddable`): others are null, or left out of a list."""
        if not names:
            return list(rows)
        embedded: list[dict[str, Any]] = [{} for _ in rows]
        for name in names:
            attribute, target = expandable(self.model)[name]
            many = name in link_fields(self.model)
            held = [_ids_held(getattr(row, attribute), many) for row in rows]
            found = {row.id: row for row in await self._rows_of(target, set().union(*held))}
            for values, ids in zip(embedded, held, strict=True):
                rows_of = [found[id] for id in ids if id in found]
                values[name] = rows_of if many else next(iter(rows_of), None)
        return [Expanded(row, values) for row, values in zip(rows, embedded, strict=True)]

    async def _rows_of(self, target: type[Entity], ids: Collection[Any]) -> Sequence[Record]:
        """The rows of `target` with these ids that the caller may read, in one statement."""
        readable = self._embeddable(target)
        if not ids or readable is None:
            return []

        def build() -> Select[Any]:
            if self.database.dialect_name == "postgresql":  # one array parameter, one plan
                chosen = target.id == any_(bindparam("_ids", type_=ARRAY(target.id.type)))
            else:
                chosen = target.id.in_(bindparam("_ids", expanding=True))
            # A person embedded is `{id, name}`: their account's other columns are never read.
            columns = [User.id, User.name] if target is User else self._columns_of(target)
            return select(*columns).where(chosen, readable)

        statement = self._statement(("expand", target.__name__), build)
        return await self._read(statement, self._params(_ids=list(ids)))

    async def delete(self, id: RowKey, versions: Versions = None) -> bool:
        key = tuple(self._key(id))
        statement = self._statement(
            ("delete", versions is None, key),
            lambda: self._scope(delete(self.model).where(*self._target(versions, key))).returning(
                self.model.id
            ),
        )
        return await self._one(statement, self._target_params(id, versions)) is not None


def key_of(id: RowKey) -> dict[str, Any]:
    """A row key as the columns it compares: an id alone is `{"id": id}`."""
    return dict(id) if isinstance(id, Mapping) else {"id": id}


def is_superuser(user_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """Whether the user's row, as the statement reads it, says superuser: a right checked
    on the server inside the statement that uses it, never taken from a token."""
    return exists().where(User.id == user_id, User.is_superuser.is_(True))


class OwnedRepository(Repository[OwnedT]):
    """The owner rule, in one place: a user reaches only rows whose `owner_id` is theirs.

    `unrestricted` (the token claims a superuser) lifts the rule for reads, updates and
    deletes if the caller's row says superuser when the statement runs: a demoted or
    deleted account's token reaches only its own rows from the next request on. New
    rows are always owned by `owner_id`. A reference to another owned table (a foreign
    key, as `tasks.project_id`) must name a row of the same owner as the row written.
    """

    def __init__(
        self,
        database: Database,
        *,
        owner_id: uuid.UUID | None,
        unrestricted: bool = False,
        viewer_id: uuid.UUID | None = None,
    ) -> None:
        """`owner_id=None` (with `unrestricted=True`) is for public reads: every row, and
        `viewer_id` the caller they are answered for, if a token names one."""
        if owner_id is None and not unrestricted:
            raise ValueError("an owner-scoped repository needs an owner_id")
        super().__init__(database)
        self.owner_id = owner_id
        self.viewer_id = owner_id if viewer_id is None else viewer_id
        self.unrestricted = unrestricted

    def _scope(self, statement: StatementT) -> StatementT:
        if self.owner_id is None:
            return statement
        return statement.where(self._owner_rule(self.model))

    def _owner_rule(self, model: type[OwnedEntity]) -> ColumnElement[bool]:
        """The rows of `model` the caller reaches: their own, or every row for a superuser."""
        owner = bindparam("_owner_id", type_=model.owner_id.type)
        if self.unrestricted:
            return or_(model.owner_id == owner, is_superuser(owner))
        return model.owner_id == owner

    def _readable(self, statement: Select[Any]) -> Select[Any]:
        """The caller's rows (any, for a superuser), or every row of a public model."""
        return statement if self.model.readable_by_anyone else self._scope(statement)

    def _embeddable(self, target: type[Entity]) -> ColumnElement[bool] | None:
        """A target whose GETs are public: every row. Else the target's owner rule for the
        caller; a public read (no caller) then reads none."""
        if not issubclass(target, OwnedEntity) or target.readable_by_anyone:
            return true()
        return None if self.owner_id is None else self._owner_rule(target)

    def _scope_key(self) -> Hashable:
        return (self.unrestricted, self.owner_id is None)

    def _key(self, id: RowKey) -> dict[str, Any]:
        """A key of a unique field that is unique among one owner's rows (`{"name": ...}`)
        names the caller's row: the owner is part of it, for a superuser too, so an update
        or delete by it never reaches the rows of several owners."""
        key = key_of(id)
        if "id" in key or not owner_keyed(self.model, frozenset(key)):
            return key
        if self.owner_id is None:
            raise ValueError(f"{sorted(key)} names a row only among one owner's rows")
        return {**key, "owner_id": self.owner_id}

    def _params(self, **params: Any) -> dict[str, Any]:
        if self.owner_id is not None:
            params["_owner_id"] = self.owner_id
        return params

    def _row_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A new row is the caller's, and so is each field that records its author."""
        authors = dict.fromkeys(self.model.authored, self.owner_id)
        return {**values, **authors, "owner_id": self.owner_id}

    def _references_in(self, values: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(name for name in owned_references(self.model) if name in values)

    def _references_hold(
        self, names: Sequence[str], *, updating: bool
    ) -> list[ColumnElement[bool]]:
        """Each reference is NULL (where allowed) or a row of the written row's owner: the
        row's `owner_id` for an UPDATE, the `owner_id` parameter for an INSERT."""
        owner = self.model.owner_id if updating else bindparam("owner_id")
        references = owned_references(self.model)
        conditions: list[ColumnElement[bool]] = []
        for name in names:
            # Aliased: a reference to the model's own table (a parent category) names another
            # row, which an unaliased subquery would take for the row written (correlation).
            target = aliased(references[name], name=f"ref_{name}")
            usable: ColumnElement[bool] = exists().where(
                target.id == bindparam(name), *_readable(target, references[name], owner)
            )
            if updating and references[name] is self.model:
                usable = usable & ~self._ancestor_or_self(name)
            column = self.model.__table__.c[name]
            if column.nullable:  # typed: PostgreSQL cannot tell the type of a bare `$n IS NULL`
                usable = or_(bindparam(name, type_=column.type).is_(None), usable)
            conditions.append(usable)
        return conditions

    def _link_holds(self, target: Any, owner: Any) -> list[ColumnElement[bool]]:
        """A `refs` target is a row a row of the writer's owner may refer to, as a `ref`'s."""
        model = inspect(target).class_
        return _readable(target, model, owner) if issubclass(model, OwnedEntity) else []

    def _ancestor_or_self(self, name: str) -> ColumnElement[bool]:
        """Whether the row written is the new parent `name` names, or one of its ancestors:
        the chain up from that parent, walked by a recursive query inside the UPDATE, so a
        tree never becomes a loop."""
        chain = _chain_up(self.model, name, nested=True)
        return exists().where(chain.c.id == self.model.id)

    async def cyclic_reference(self, id: uuid.UUID, values: Mapping[str, Any]) -> str | None:
        """The reference in `values` to the model's own table that would make the row `id`
        its own ancestor, to explain a write refused for it."""
        for name in self._references_in(values):
            if values[name] is None or owned_references(self.model).get(name) is not self.model:
                continue
            statement = self._statement(("ancestors", name), partial(_ancestors, self.model, name))
            if id in {row[0] for row in await self._read(statement, {name: values[name]})}:
                return name
        return None

    async def visible(self, id: uuid.UUID) -> bool:
        """The caller's row (any, for a superuser), or any row of a model anyone may read."""
        if not self.model.readable_by_anyone:
            return await super().visible(id)
        statement = self._statement(
            ("visible",), lambda: select(self.model.id).where(self.model.id == bindparam("_pk"))
        )
        return bool(await self._read(statement, {"_pk": id}))

    async def missing_reference(
        self, values: Mapping[str, Any], owner_id: Any, row: Record | None = None
    ) -> str | None:
        for name, ids in self._split(values)[1].items():
            if not ids:
                continue
            statement = self._statement(
                ("usable", name),
                lambda name=name: select(func.count()).select_from(  # type: ignore[misc]
                    self._usable_ids(name, bindparam("_owner", type_=Uuid)).subquery()
                ),
            )
            params = {"_owner": owner_id, "_ids": self._ids_param(ids)}
            if (await self._read(statement, params))[0][0] != len(ids):
                return in_words(link_fields(self.model)[name].target_model.__name__)
        for name in self._references_in(values):
            if values[name] is None:
                continue
            target = owned_references(self.model)[name]
            statement = self._statement(("reference", name), partial(_usable, target))
            if not await self._read(statement, {"_pk": values[name], "_owner": owner_id}):
                return in_words(target.__name__)
        return None


def _readable(alias: Any, model: type[OwnedEntity], owner: Any) -> list[ColumnElement[bool]]:
    """Which rows of `model` (as `alias`) a row of `owner` may refer to: the owner's own, or
    every row when anyone may read them."""
    return [] if model.readable_by_anyone else [alias.owner_id == owner]


def _usable(model: type[OwnedEntity]) -> Select[Any]:
    return select(model.id).where(
        model.id == bindparam("_pk"), *_readable(model, model, bindparam("_owner"))
    )


def _ancestors(model: type[OwnedEntity], name: str) -> Select[Any]:
    """The row `name` names and every row above it, by that reference."""
    return select(_chain_up(model, name, nested=False).c.id)


def _chain_up(model: type[OwnedEntity], name: str, *, nested: bool) -> CTE:
    """A recursive query: the row the parameter `name` names, then its parent by the
    reference `name`, and so on to the root (`nested`: inside the statement that uses it)."""
    start, step = aliased(model, name=f"up_{name}"), aliased(model, name=f"step_{name}")
    first = select(start.id, getattr(start, name).label("parent"))
    chain = first.where(start.id == bindparam(name)).cte(
        f"chain_{name}", recursive=True, nesting=nested
    )
    return chain.union(select(step.id, getattr(step, name)).where(step.id == chain.c.parent))


@cache
def owner_keyed(model: type[Entity], key: frozenset[str]) -> bool:
    """Whether the columns `key` name one row only among one owner's rows (a unique index on
    the owner and them); False when they name one row among all rows. Columns that no
    unique index covers name no row at all: a programming error."""
    table = model.__table__
    assert isinstance(table, Table)
    unique = [
        frozenset(column.name for column in index.columns)
        for index in table.indexes
        if index.unique
    ]
    unique += [
        frozenset(column.name for column in constraint.columns)
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint | PrimaryKeyConstraint)
    ]
    if key in unique:
        return False
    if key | {"owner_id"} in unique:
        return True
    raise ValueError(f"{sorted(key)} is no unique key of {table.name}")


@cache
def scalar_defaults(model: type[Entity]) -> dict[str, Any]:
    """The model's fixed column defaults (`version` 1, a `status`): a statement run as
    compiled SQL gets no help from SQLAlchemy to fill them in. Per model, not per
    repository: a repository lives for one request."""
    return {
        column.key: column.default.arg
        for column in model.__table__.columns
        if column.default is not None and column.default.is_scalar
    }


class Expanded:
    """A row with the rows `expand` embedded beside its columns (`row.project`), read by
    attribute as the row itself is."""

    __slots__ = ("_embedded", "_row")

    def __init__(self, row: Record, embedded: dict[str, Any]) -> None:
        self._row = row
        self._embedded = embedded

    def __getattr__(self, name: str) -> Any:
        if name in self._embedded:
            return self._embedded[name]
        return getattr(self._row, name)

    def __getitem__(self, key: Any) -> Any:
        return self._row[key]


@cache
def expandable(model: type[Entity]) -> dict[str, tuple[str, type[Entity]]]:
    """What `expand` may name on `model`, with the attribute holding the id(s) and the model
    it points at: each reference `x_id` as `x`, each `refs` field under its own name."""
    people = {column.name: User for column in user_columns(model)}
    singles = {
        column.removesuffix("_id"): (column, target)
        for column, target in (owned_references(model) | people).items()
        if column.endswith("_id")
    }
    many = {
        name: (name, link.target_model)
        for name, link in link_fields(model).items()
        if link.target_model is not User  # who favorited: ids only, never their accounts
    }
    return singles | many


def user_columns(model: type[Entity]) -> list[Any]:
    """The columns of `model` other than `owner_id` that name a user (`assignee_id`)."""
    return [
        column
        for column in model.__table__.columns
        if column.name != "owner_id"
        and any(key.column.table is User.__table__ for key in column.foreign_keys)
    ]


def _ids_held(value: Any, many: bool) -> list[uuid.UUID]:
    """The ids a row's reference (`many`: its `refs` field) holds, as UUIDs: SQLite answers a
    `refs` field as the hex digits it stores."""
    if not many:
        return [] if value is None else [value]
    return [id if isinstance(id, uuid.UUID) else uuid.UUID(id) for id in value]


@cache
def owned_references(model: type[Entity]) -> dict[str, type[OwnedEntity]]:
    """Foreign keys of `model` (other than `owner_id`) to tables whose rows have owners."""
    classes = {mapper.local_table: mapper.class_ for mapper in Entity.registry.mappers}
    references: dict[str, type[OwnedEntity]] = {}
    for column in model.__table__.columns:
        if column.name == "owner_id":
            continue
        for key in column.foreign_keys:
            target = classes.get(key.column.table)
            if target is not None and issubclass(target, OwnedEntity):
                references[column.name] = target
    return references


@dataclass(frozen=True)
class Link:
    """A `refs` field of a model: its link table, the column naming the row, the column
    naming the referenced row, and the referenced model."""

    table: Table
    source: Column[Any]
    target: Column[Any]
    target_model: type[Entity]


@cache
def link_fields(model: type[Entity]) -> dict[str, Link]:
    """The `refs` fields of `model` (src/models/base.py `links`), by name."""
    fields = {}
    for relationship in inspect(model).relationships:
        if relationship.secondary is None:
            continue
        ((_, source),) = relationship.synchronize_pairs
        ((_, target),) = relationship.secondary_synchronize_pairs or ()
        table = relationship.secondary
        assert isinstance(table, Table)
        assert isinstance(source, Column)
        assert isinstance(target, Column)
        fields[relationship.key] = Link(table, source, target, relationship.mapper.class_)
    return fields
