"""Read a filled-in feature design doc into a `FeatureDoc`, or say everything wrong with it.

The doc is parsed with markdown-it (CommonMark + tables), not with regexes over raw
text: `##` sections, one `###` per model or endpoint, and their tables. Every
problem is collected with its line, so one run reports them all.
"""

import difflib
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

from src.core.pagination import OPERATORS, SORT_MAX_KEYS, SORT_TEXT_MAX_LENGTH, split_filter
from src.engine.action_doc import (
    ACTION_PATH,
    COMPARED_KINDS,
    SYSTEM_FIELDS,
    ActionDoc,
    read_action,
)
from src.engine.patterns import pattern_problem, pattern_sample
from src.schemas.base import INT32, DecimalString

MODEL_COLUMNS = ("Field", "Type", "Required", "Default", "Description")
FILE_PLAN_COLUMNS = ("#", "File", "Action", "Description")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
REQUIRED_VALUES = ("yes", "no", "auto")
FIXED = "fixed"
"""Required `yes, fixed` or `no, fixed`: a field the client sets at create only."""
PUBLIC_AUTH = ("none", "public")
OPTIONAL_AUTH = "optional"
"""`Auth | Optional`: a GET anyone may call, that still reads (and checks) a token sent."""
ACTION_ROWS = ("When", "Sets")
"""The rows an action endpoint adds to its table (with `Request | fields a, b`)."""
LIST_PARAMS = ("page", "limit", "cursor")
"""Query parameters every list takes (`cursor`: keyset paging, docs/design-docs.md)."""
EXPAND_PARAM = "expand"
"""`expand (project, labels)` in a GET's Query Params: the references it may embed."""
SORT_PARAM = "sort"
"""`sort (priority, due_date, created_at; default -created_at)`: the keys a list sorts by."""
SEARCH_PARAM = "q"
"""`q (search title, description)`: a case-insensitive substring of any of these fields."""
SORTABLE = ("str", "int", "float", "decimal", "bool", "date", "datetime", "enum")
"""The kinds a list may sort by: one value per row, with an order."""
OPERATOR_KINDS = {
    "gte": ("int", "float", "decimal", "date", "datetime"),
    "gt": ("int", "float", "decimal", "date", "datetime"),
    "lte": ("int", "float", "decimal", "date", "datetime"),
    "lt": ("int", "float", "decimal", "date", "datetime"),
    "ne": ("str", "int", "float", "decimal", "bool", "date", "datetime", "enum", "uuid", "ref"),
    "in": ("str", "int", "decimal", "date", "enum", "uuid", "ref"),
    "isnull": ("str", "int", "float", "decimal", "bool", "date", "datetime", "enum", "uuid", "ref"),
    "contains": ("str", "list"),
}
"""The kinds of field each filter operator (`priority__gte`) compares (`contains` on a list:
an item, as its equality filter)."""
ERROR_SCHEMAS = (
    "ValidationError",
    "UnauthorizedError",
    "ForbiddenError",
    "NotFoundError",
    "ConflictError",
    "PreconditionFailedError",
    "PayloadTooLargeError",
    "IdempotencyError",
    "PreconditionRequiredError",
    "ServiceUnavailableError",
)
FILE_PLAN_LAYOUT = (
    r"src/models/[a-z][a-z0-9_]*\.py",
    r"src/schemas/[a-z][a-z0-9_]*\.py",
    r"src/repositories/[a-z][a-z0-9_]*_repo\.py",
    r"src/services/[a-z][a-z0-9_]*_service\.py",
    r"src/api/v1/routes/[a-z][a-z0-9_]*\.py",
    r"src/api/v1/router\.py",
)
FIELD_NAME_MAX_LENGTH = 40
"""Within PostgreSQL's 63 characters with a table's name and a constraint's suffix, and short
enough for every generated line to fit in 100 columns."""
TEXT_DEFAULT_MAX_LENGTH = 60
"""A `str` default is a string literal in the model and the schemas: one that fits a line."""
INT64 = (-(2**63), 2**63 - 1)
"""The widest integer column (BIGINT): an `int` range stays within it."""
DECIMAL_PRECISION = 1000
"""The most digits a `Decimal(P, S)` may have: PostgreSQL's NUMERIC refuses more (and 0)."""
REFS_MAX_ITEMS = 1000
"""The most ids a `refs` field takes in one request, when its bound says no fewer: every
input is bounded."""
LIST_MAX_ITEMS = 100
"""The most items a `list[T]` takes when its bound gives no maximum: every input is bounded."""
LIST_ITEM_KINDS = ("str", "int", "enum", "date")
"""What a `list[T]` holds: values an array column of PostgreSQL and a JSON array both keep
as sent, and a list filter can compare."""
OBJECT_FIELD_KINDS = ("uuid", "str", "int", "float", "bool", "date", "datetime", "enum")
"""The fields of an `object(Name)`: scalars, kept as JSON values."""
OBJECT_HEADING = re.compile(r"(?P<name>[A-Z][A-Za-z0-9]*)\s+\(object\)")
"""`### Due (object)` in Data Models: the fields of `object(Due)`, no table of its own."""
TYPE_GRAMMAR = (
    "UUID, str, str(MIN..MAX), int, int(MIN..MAX), float, float(MIN..MAX), bool, date, "
    "datetime, Decimal, Decimal(PRECISION, SCALE), enum(a, b, ...), ref(Model), refs(Model),"
    " refs(Model)(MIN..MAX), str(MIN..MAX) matching REGEX, list[T], list[T](MIN..MAX) (T one"
    " of str(..), int(..), enum(...), date), object(Name), json"
)

_RANGE = r"(?P<low>-?\d+(?:\.\d+)?)?\.\.(?P<high>-?\d+(?:\.\d+)?)?"
_TYPE_PATTERNS = {
    "uuid": re.compile(r"UUID"),
    "str": re.compile(rf"str(?:\({_RANGE}\))?"),
    "int": re.compile(rf"int(?:\({_RANGE}\))?"),
    "float": re.compile(rf"float(?:\({_RANGE}\))?"),
    "bool": re.compile(r"bool"),
    "date": re.compile(r"date"),
    "datetime": re.compile(r"datetime"),
    "decimal": re.compile(r"Decimal(?:\((?P<precision>\d+),\s*(?P<scale>\d+)\))?"),
    "enum": re.compile(r"enum\((?P<choices>[^()]+)\)"),
    "ref": re.compile(r"ref\((?P<model>[A-Z][A-Za-z0-9]*)\)"),
    "refs": re.compile(rf"refs\((?P<model>[A-Z][A-Za-z0-9]*)\)(?:\({_RANGE}\))?"),
    "object": re.compile(r"object\((?P<object>[A-Z][A-Za-z0-9]*)\)"),
    "json": re.compile(r"json"),
}
_LIST = re.compile(rf"list\[(?P<item>.+)\](?:\({_RANGE}\))?")
_MATCHING = " matching "
_TYPE_WORDS = {"uuid": "UUID", "datetime": "datetime"}
FACTORIES_OF_ROWS = ("utcnow()", "uuid4()")
_ENDPOINT_HEADING = re.compile(r"(?P<method>[A-Z]+)\s+(?P<path>/\S*)")
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
_NESTED_LIST = re.compile(r"^/api/v1/[a-z][a-z0-9_]*/\{[^{}/]*\}/(?=[a-z][a-z0-9_]*$)")
"""The parent part of a nested list's path: `/api/v1/projects/{project_id}/`."""
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_UUID_EXAMPLE = "00000000-0000-4000-8000-000000000000"
_MODEL_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
_RENAMED_FROM = re.compile(r"\brenamed from `?(?P<name>[a-z][a-z0-9_]*)`?", re.IGNORECASE)
_COUNT = re.compile(r"count\((?:(?P<model>[A-Z][A-Za-z0-9]*)\.)?(?P<field>[a-z][a-z0-9_]*)\)")
"""A derived field's `count(Comment.card_id)` or `count(labels)`."""
_ACCESS = re.compile(r"Access:(?P<value>.*)")
_THROUGH = re.compile(r"through (?P<field>[a-z][a-z0-9_]*)")
SHARED = "shared"
ROLE_FIELD = "role"
"""What each row of a shared model answers: the caller's role in it."""
CURRENT_USER = "current user"
_VIEWER = re.compile(r"current user in (?P<field>[a-z][a-z0-9_]*)")
"""A derived bool's `current user in favorited_by`: whether the caller is in that set."""
_SLUG = re.compile(r"slug\((?P<field>[a-z][a-z0-9_]*)\)")
"""A derived text's `slug(title)`: made from that field at create."""
_NEXT = re.compile(r"next\((?P<field>[a-z][a-z0-9_]*)?\)")
"""A derived int's `next(repo_id)` (1, 2, 3 per value of that ref) or `next()` (per owner)."""
_UNIQUE_SUFFIX = re.compile(r"\s+unique(?P<per>\s+per(?:\s+(?P<scope>\S+))?)?$")
OWNER_SCOPE = ("owner_id",)
"""`unique` alone: among the rows of the same owner."""
UNIQUE_MIN_VALUES = 3
"""A unique field's type has room for at least this many values: with fewer, a handful of
rows would exhaust it (a `bool` allows two per owner), which is no key."""


@dataclass(frozen=True)
class FieldType:
    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    ref: str | None = None
    precision: int | None = None
    scale: int | None = None
    pattern: str | None = None
    """`str(..7) matching ^#[0-9a-f]{6}$`: a regular expression every value has a match of."""
    item: "FieldType | None" = None
    """The type of each item of a `list[T]` (whose `low`, `high` bound the count)."""
    object: str | None = None
    """The `### Name (object)` whose fields an `object(Name)` has."""


@dataclass(frozen=True)
class ModelField:
    name: str
    type: FieldType
    required: str
    default: str | None
    description: str
    line: int
    fixed: bool = False
    """Set at create only (`yes, fixed`, `no, fixed`): in `<Model>Create`, not `<Model>Update`."""
    unique: tuple[str, ...] | None = None
    """None: not unique; the columns whose rows it is unique among (`("owner_id",)` for
    `unique`, `("project_id",)` for `unique per project_id`)."""

    @property
    def nullable(self) -> bool:
        """A `refs` or `list` field is never null: without items it is the empty list."""
        optional = self.required in ("no", "auto") and self.default in (None, "null")
        return optional and self.type.kind not in ("refs", "list")

    @property
    def derived(self) -> bool:
        """Set by the system, not the client, and not one of the columns every row has: a
        field with Default null that only actions set (`completed_at`), or a count."""
        return self.required == "auto" and self.name not in SYSTEM_FIELDS

    @property
    def counted(self) -> tuple[str | None, str] | None:
        """`count(Comment.card_id)`: ("Comment", "card_id"), the rows of a model whose
        reference names this row; `count(labels)`: (None, "labels"), a `refs` field's ids."""
        found = _COUNT.fullmatch(self.default or "") if self.derived else None
        return None if found is None else (found["model"], found["field"])

    @property
    def viewed(self) -> str | None:
        """`current user in favorited_by`: the `refs(User)` field whose holding the caller
        this field answers, or None."""
        found = _VIEWER.fullmatch(self.default or "") if self.derived else None
        return None if found is None else found["field"]

    @property
    def slugged(self) -> str | None:
        """`slug(title)`: the field its slug is made from, or None."""
        found = _SLUG.fullmatch(self.default or "") if self.derived else None
        return None if found is None else found["field"]

    @property
    def numbered(self) -> str | None:
        """`next(repo_id)`: the `ref` field whose rows each count 1, 2, 3 (`owner_id` for
        `next()`: per owner); None for another field."""
        found = _NEXT.fullmatch(self.default or "") if self.derived else None
        return None if found is None else (found["field"] or "owner_id")

    @property
    def stored(self) -> bool:
        """A column of its own: what a client sends, a derived field actions set, and the
        set of users a `refs(User)` field holds."""
        computed = self.counted is not None or self.viewed is not None
        return self.required != "auto" or (self.derived and not computed)

    @property
    def authored(self) -> bool:
        """`| author_id | ref(User) | auto | current user |`: who created the row, set from
        the caller at create (a shared or through model's)."""
        return (
            self.required == "auto"
            and self.type.ref == "User"
            and self.default == CURRENT_USER
            and self.name != "owner_id"
        )

    @property
    def renamed_from(self) -> str | None:
        """The old name a Description gives with `renamed from old_name`: a rename, not a
        drop and an add, when the built doc has that field and not this one."""
        match = _RENAMED_FROM.search(self.description)
        return match["name"] if match else None


@dataclass(frozen=True)
class Model:
    name: str
    fields: tuple[ModelField, ...]
    line: int
    is_object: bool = False
    """A `### Name (object)`: the fields of an `object(Name)`, no table."""
    access: str | None = None
    """The `Access:` line under its heading: `shared`, `through project_id`, or None (the
    owner's rows only)."""

    @property
    def shared(self) -> bool:
        """`Access: shared`: a container its members share, with roles."""
        return self.access == SHARED

    @property
    def through(self) -> str | None:
        """`Access: through project_id`: the `ref` whose row decides who may read and write."""
        found = _THROUGH.fullmatch(self.access or "")
        return None if found is None else found["field"]

    @property
    def in_team(self) -> bool:
        """Its rows are a team's: a shared container, or inside one."""
        return self.access is not None

    @property
    def table(self) -> str:
        return table_name(self.name)

    def field(self, name: str) -> ModelField | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class QueryParam:
    name: str
    detail: str

    @property
    def names(self) -> tuple[str, ...]:
        """The comma-separated words of the detail: `expand (project, labels)`."""
        return tuple(name.strip(" `") for name in self.detail.split(",") if name.strip(" `"))


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    auth: bool
    request: str | None
    responses: dict[int, str]
    query: tuple[QueryParam, ...]
    line: int
    action: ActionDoc | None = None
    """What an action endpoint (`POST /api/v1/tasks/{id}/close`) checks and sets."""
    optional: bool = False
    """`Auth | Optional` on a GET: open to anyone (`auth` is False), and a token, when one is
    sent, is read (a bad one is a 401)."""

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def expand(self) -> tuple[str, ...]:
        """The names `expand (project, labels)` lists, in its order."""
        return next((p.names for p in self.query if p.name == EXPAND_PARAM), ())

    @property
    def sort(self) -> "ListSort | None":
        """What `sort (priority, due_date; default -priority)` lists, or None."""
        param = next((p for p in self.query if p.name == SORT_PARAM), None)
        return None if param is None else ListSort.of(param.detail)

    @property
    def search(self) -> tuple[str, ...]:
        """The fields `q (search title, description)` searches, in its order."""
        param = next((p for p in self.query if p.name == SEARCH_PARAM), None)
        if param is None:
            return ()
        words = param.detail.strip()
        return QueryParam(param.name, re.sub(r"^search\b", "", words)).names


@dataclass(frozen=True)
class ListSort:
    """`sort (priority, due_date, created_at; default -created_at)`: the keys, and the order
    without `?sort` (creation order when the doc names none)."""

    keys: tuple[str, ...]
    default: str

    @property
    def taken(self) -> tuple[str, ...]:
        """The keys `?sort` takes: those listed, and the default's (`created_at` when the doc
        names no default), so that the default is a value of its own parameter."""
        default = [key.removeprefix("-") for key in self.default.split(",")]
        return tuple(dict.fromkeys([*self.keys, *default]))

    @classmethod
    def of(cls, detail: str) -> "ListSort":
        listed, _, rest = detail.partition(";")
        keys = QueryParam(SORT_PARAM, listed).names
        default = re.sub(r"^\s*default\b", "", rest).strip(" `")
        return cls(keys, re.sub(r"\s+", "", default) or "created_at")


@dataclass(frozen=True)
class PlannedFile:
    path: str
    action: str
    description: str
    line: int


@dataclass(frozen=True)
class FeatureDoc:
    path: Path
    id: str
    title: str
    overview: str
    models: tuple[Model, ...]
    endpoints: tuple[Endpoint, ...]
    file_plan: tuple[PlannedFile, ...]
    decisions: tuple[str, ...]
    objects: tuple[Model, ...] = ()
    """The `### Name (object)` sections: the fields of each `object(Name)`."""

    def object_named(self, name: str | None) -> Model | None:
        return next((o for o in self.objects if o.name == name), None)


@dataclass(frozen=True)
class DocProblem:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class InvalidDoc(Exception):
    """A design doc with problems; `problems` lists every one of them."""

    def __init__(self, problems: list[DocProblem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def _needs_a_row(item: "ModelField") -> bool:
    """Whether a row cannot be written without a row its reference names: a required
    `ref`, or a required `refs` with a lower bound of at least one id."""
    if item.required != "yes":
        return False
    return item.type.kind == "ref" or (item.type.low or 0) >= 1


def table_name(model: str) -> str:
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", model).lower()
    if re.search(r"[^aeiou]y$", snake):
        return snake[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", snake):
        return snake + "es"
    return snake + "s"


def module_name(model: str) -> str:
    """`TimeEntry` -> `time_entry`: its modules, and its id column in a link table."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", model).lower()


@dataclass(frozen=True)
class Link:
    """The association table of a `refs(Target)` field: one row per (row, id) pair, with
    the position the id was sent at, so the ids are answered in the order sent."""

    table: str
    source: str
    """The column naming the row (`task_id`)."""
    source_table: str
    target: str
    """The column naming the referenced row (`label_id`; `linked_task_id` on its own model)."""
    target_table: str


@dataclass(frozen=True)
class Members:
    """The members table of a shared model (`Access: shared`): one row per (container,
    user) with the user's role."""

    table: str
    column: str
    """The column naming the container (`project_id`)."""
    container_table: str


def members_of(model: "Model") -> Members | None:
    """`Project` with `Access: shared` keeps its members in `project_members (project_id,
    user_id, role, created_at)`; None for a model that is not shared."""
    if not model.shared:
        return None
    module = module_name(model.name)
    return Members(f"{module}_members", f"{module}_id", model.table)


def link_of(model: "Model", item: "ModelField") -> Link:
    """`Task.labels: refs(Label)` is stored in `task_labels (task_id, label_id, position)`."""
    source = f"{module_name(model.name)}_id"
    target = f"{module_name(item.type.ref or '')}_id"
    if target == source:
        target = f"linked_{target}"
    return Link(
        f"{module_name(model.name)}_{item.name}",
        source,
        model.table,
        target,
        table_name(item.type.ref or ""),
    )


@dataclass
class _Section:
    """A `##` section: its `###` subsections, each with its text, tables and lines."""

    title: str
    line: int
    paragraphs: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    subsections: list["_Section"] = field(default_factory=list)
    tables: list["_Table"] = field(default_factory=list)


@dataclass
class _Table:
    header: list[str]
    rows: list[tuple[int, list[str]]]
    line: int


class _Reader:
    def __init__(self, path: Path, known_models: frozenset[str]) -> None:
        self.path = path
        self.known_models = known_models
        self.problems: list[DocProblem] = []
        self.objects: list[Model] = []

    def problem(self, line: int, message: str) -> None:
        self.problems.append(DocProblem(self.path, line, message))

    def read(self, text: str) -> FeatureDoc:
        title_line, title, sections = _sections(
            MarkdownIt("commonmark").enable("table").parse(text)
        )
        match = re.fullmatch(r"(?P<id>FEAT-\d{3})\s+Design:\s+(?P<name>.+)", title)
        if match is None:
            self.problem(title_line, f"title is {title!r}; expected '# FEAT-NNN Design: Name'")
        by_title = {section.title: section for section in sections}
        for required in ("Overview", "Data Models", "API Endpoints", "File Plan"):
            if required not in by_title:
                self.problem(
                    title_line, f"no '## {required}' section; expected it, as in the template"
                )
        models = self.models(by_title.get("Data Models"))
        endpoints = self.endpoints(by_title.get("API Endpoints"), models)
        self.check_team_reads(models, endpoints)
        file_plan = self.file_plan(by_title.get("File Plan"))
        overview = by_title.get("Overview")
        decisions = by_title.get("Design Decisions")
        return FeatureDoc(
            path=self.path,
            id=match["id"] if match else "",
            title=match["name"] if match else title,
            overview=" ".join(overview.paragraphs) if overview else "",
            models=models,
            endpoints=endpoints,
            file_plan=file_plan,
            decisions=tuple(decisions.items) if decisions else (),
            objects=tuple(self.objects),
        )

    def models(self, section: _Section | None) -> tuple[Model, ...]:
        if section is None:
            return ()
        models = []
        tables: dict[str, str] = {}
        for sub in section.subsections:
            heading = OBJECT_HEADING.fullmatch(sub.title)
            if heading is not None:
                self.object_section(sub, heading["name"])
                continue
            if not _MODEL_NAME.fullmatch(sub.title):
                self.problem(sub.line, f"model name {sub.title!r}; expected a PascalCase name")
                continue
            table = self.table(sub, MODEL_COLUMNS)
            if table is None:
                continue
            fields = tuple(self.model_field(line, row) for line, row in table.rows)
            access = self.access(sub)
            model = Model(
                sub.title, tuple(f for f in fields if f is not None), sub.line, access=access
            )
            if model.table in tables:
                self.problem(
                    sub.line,
                    f"models {tables[model.table]} and {model.name} share the table name"
                    f" {model.table!r}; expected one table per model",
                )
            tables[model.table] = model.name
            models.append(model)
        if not models:
            self.problem(section.line, "no model; expected one '### ModelName' with its table")
        known_tables = {table_name(name) for name in self.known_models}
        for model in models:
            for item in model.fields:
                if item.type.kind != "refs":
                    continue
                link = link_of(model, item)
                if link.table in tables or link.table in known_tables:
                    self.problem(
                        item.line,
                        f"{model.name}.{item.name} is stored in the table {link.table!r}, which"
                        " a model has already; expected another field name",
                    )
        for model in models:
            self.check_model(model, self.known_models | {m.name for m in models})
        self.check_objects(models)
        self.check_access(models)
        self.check_required_references(models)
        self.check_counts(models)
        return tuple(models)

    def access(self, sub: _Section) -> str | None:
        """The `Access:` line of a model's section, if it has one."""
        lines = [p for p in sub.paragraphs if re.match(r"Access\b", p)]
        for extra in lines[1:]:
            self.problem(sub.line, f"model {sub.title} has a second line {extra!r}; expected one")
        if not lines:
            return None
        found = _ACCESS.fullmatch(lines[0])
        value = found["value"].strip() if found else ""
        if value == SHARED or _THROUGH.fullmatch(value):
            return value
        self.problem(
            sub.line + 1,
            f"{lines[0]!r} under model {sub.title}; expected 'Access: shared' (a container its"
            " members share) or 'Access: through <ref field>' (inside one)",
        )
        return None

    def check_access(self, models: list[Model]) -> None:
        """`through` names a required `ref` to a shared model, or to one itself through
        another, without a loop; people (`ref(User)`) are referred to only in a team's rows,
        whose members they can be; a shared model keeps `role` for the caller's."""
        by_name = {model.name: model for model in models}
        for model in models:
            if model.shared and model.field(ROLE_FIELD) is not None:
                found = model.field(ROLE_FIELD)
                assert found is not None
                self.problem(
                    found.line,
                    f"{model.name} is shared, and each of its rows answers the caller's"
                    f" {ROLE_FIELD!r}; expected another name for this field",
                )
            for item in model.fields:
                owners = item.unique == OWNER_SCOPE or item.numbered == "owner_id"
                if model.in_team and (owners or item.slugged is not None):
                    self.problem(
                        item.line,
                        f"{model.name}.{item.name} is a key among its creator's rows, but"
                        f" {model.name}'s rows are a team's (Access: {model.access}), whose"
                        " members each see rows others created; expected it unique per a ref"
                        " field (`unique per project_id`, `next(project_id)`), or no key",
                    )
                people = item.type.kind == "ref" and item.type.ref == "User"
                if not people or item.name == "owner_id" or model.in_team:
                    continue
                if item.required == "auto" and item.default == "null":
                    continue  # who ran an action (`closed_by`): set only by the caller
                self.problem(
                    item.line,
                    f"{model.name}.{item.name} refers to a user, but {model.name}'s rows are"
                    " its owner's alone; expected 'Access: shared' or 'Access: through"
                    " <ref field>' under its heading, so the user can be a member",
                )
            if model.through is None:
                continue
            via = model.field(model.through)
            target = via.type.ref or "" if via is not None else ""
            parent = by_name.get(target)
            elsewhere = target in self.known_models and parent is None  # checked by `add`
            if via is not None and via.type.kind == "ref" and elsewhere:
                pass
            elif via is None or via.type.kind != "ref" or parent is None or not parent.in_team:
                refs = [
                    f.name
                    for f in model.fields
                    if f.type.kind == "ref"
                    and f.type.ref in by_name
                    and by_name[f.type.ref].in_team
                ]
                self.problem(
                    model.line + 1,
                    f"{model.name} is 'through {model.through}', which is no ref field of"
                    f" {model.name} to a shared model of this doc; expected one of"
                    f" {', '.join(refs) or 'none: add a ref to a model with Access: shared'}",
                )
                continue
            if via.required != "yes":
                self.problem(
                    via.line,
                    f"{model.name}.{via.name} decides who reads and writes each row, so every"
                    " row needs one; expected Required yes (or yes, fixed)",
                )
            seen, step = [model.name], parent
            while step is not None and step.through is not None and step.name not in seen:
                seen.append(step.name)
                up = step.field(step.through)
                step = by_name.get(up.type.ref or "") if up is not None else None
            if step is not None and step.name in seen:
                self.problem(
                    model.line + 1,
                    f"{' -> '.join([*seen, step.name])}: 'through' leads back to"
                    f" {step.name}; expected it to end at a model with Access: shared",
                )

    def check_team_reads(self, models: tuple[Model, ...], endpoints: tuple[Endpoint, ...]) -> None:
        """A team's rows are read by its members: no GET of them is open to anyone."""
        for endpoint in endpoints:
            model = model_of(endpoint.path, models)
            public = endpoint.method == "GET" and not endpoint.auth
            if public and model is not None and model.in_team:
                self.problem(
                    endpoint.line,
                    f"{endpoint.key} is open to anyone, but {model.name}'s rows are read by"
                    f" its team's members only (Access: {model.access}); expected Auth"
                    " Required",
                )

    def check_counts(self, models: list[Model]) -> None:
        """`count(Comment.card_id)` names a `ref` field of a model of this doc that refers to
        the counting model; `count(labels)` a `refs` field of the model itself."""
        by_name = {model.name: model for model in models}
        for model in models:
            for item in model.fields:
                if item.counted is None:
                    continue
                source, name = item.counted
                counted = model if source is None else by_name.get(source)
                found = counted.field(name) if counted is not None else None
                if source is None:
                    fits = found is not None and found.type.kind == "refs"
                    wanted = f"refs field of {model.name}"
                else:
                    fits = found is not None and found.type.kind == "ref"
                    fits = fits and found is not None and found.type.ref == model.name
                    wanted = f"ref({model.name}) field of a model of this doc"
                if not fits:
                    refs = [
                        f"count({m.name}.{f.name})"
                        for m in models
                        for f in m.fields
                        if f.type.kind == "ref" and f.type.ref == model.name
                    ]
                    refs += [f"count({f.name})" for f in model.fields if f.type.kind == "refs"]
                    self.problem(
                        item.line,
                        f"{model.name}.{item.name} is {item.default}, which names no {wanted};"
                        f" expected {' or '.join(refs) or 'a ' + wanted}",
                    )

    def object_section(self, sub: _Section, name: str) -> None:
        """`### Due (object)`: the fields of `object(Due)`, scalars a client sends (no system
        rows: an object is a value of its row, not a row)."""
        table = self.table(sub, MODEL_COLUMNS)
        if table is None:
            return
        fields = []
        for line, row in table.rows:
            item = self.model_field(line, row)
            if item is None:
                continue
            if item.name in ("id", "owner_id", "created_at", "updated_at", "version"):
                self.problem(
                    line,
                    f"object {name} has a {item.name!r} row; an object is a value of its row,"
                    " with no id, owner or timestamps of its own: expected only its own fields",
                )
            elif item.type.kind not in OBJECT_FIELD_KINDS:
                self.problem(
                    line,
                    f"{name}.{item.name} is {_plain(row[1])}; an object's fields are UUID, str,"
                    " str(..) (matching too), int, float, bool, date, datetime or enum(...)",
                )
            elif item.required == "auto" or item.fixed:
                self.problem(
                    line,
                    f"{name}.{item.name} is Required {_plain(row[2])}; an object's fields are"
                    " yes or no (the object is sent, and replaced, whole)",
                )
            elif item.default in FACTORIES_OF_ROWS:
                self.problem(
                    line,
                    f"{name}.{item.name} defaults to {item.default}, a value per row; an"
                    " object's default is a value (or null, or -)",
                )
            else:
                fields.append(item)
        if any(o.name == name for o in self.objects):
            self.problem(sub.line, f"object {name} is described twice; expected it once")
            return
        self.objects.append(Model(name, tuple(fields), sub.line, is_object=True))

    def check_objects(self, models: list[Model]) -> None:
        """Each `object(Name)` names a `### Name (object)`, and each of those is used and
        named unlike a model."""
        objects = {o.name: o for o in self.objects}
        used = set()
        for model in models:
            for item in model.fields:
                if item.type.kind != "object":
                    continue
                used.add(item.type.object)
                if item.type.object not in objects:
                    self.problem(
                        item.line,
                        f"{model.name}.{item.name} is object({item.type.object}), but no"
                        f" '### {item.type.object} (object)' heading gives its fields; expected"
                        " one in Data Models, with the same five columns as a model",
                    )
        names = {m.name for m in models} | self.known_models
        for name, found in objects.items():
            if name in names:
                self.problem(
                    found.line, f"object {name} has the name of a model; expected another name"
                )
            elif name not in used:
                self.problem(
                    found.line,
                    f"object {name} is no field's type; expected a field of type object({name})",
                )

    def check_required_references(self, models: list[Model]) -> None:
        """A required reference that leads back to its own model (a required parent, or
        two models that each require the other) leaves no row that could be created first."""
        required = {
            model.name: [f for f in model.fields if f.type.ref and _needs_a_row(f)]
            for model in models
        }
        for model in models:
            for item in required[model.name]:
                path, seen = [f"{model.name}.{item.name}"], {model.name}
                target = item.type.ref
                while target in required and target not in seen:
                    seen.add(target)
                    following = required[target]
                    if not following:
                        break
                    path.append(f"{target}.{following[0].name}")
                    target = following[0].type.ref
                if target == model.name:
                    self.problem(
                        item.line,
                        f"{' -> '.join(path)} -> {model.name}: required references lead back to"
                        f" {model.name}, so no first row could be created; write Required no"
                        f" for {model.name}.{item.name}",
                    )

    def check_model(self, model: Model, known: frozenset[str]) -> None:
        names = [f.name for f in model.fields]
        for name in sorted({n for n in names if names.count(n) > 1}):
            self.problem(
                model.line, f"model {model.name} lists field {name!r} twice; expected it once"
            )
        expected = {
            "id": ("uuid", "auto", "uuid4()"),
            "created_at": ("datetime", "auto", "utcnow()"),
            "updated_at": ("datetime", "auto", "utcnow()"),
        }
        for name, (kind, required, default) in expected.items():
            found = model.field(name)
            if found is None:
                self.problem(
                    model.line,
                    f"model {model.name} has no {name!r} row; expected"
                    f" '| {name} | {_TYPE_WORDS[kind]} | {required} | {default} |'",
                )
            elif (found.type.kind, found.required, found.default) != (kind, required, default):
                self.problem(
                    found.line,
                    f"{model.name}.{name} is not as the template writes it; expected"
                    f" '| {name} | {_TYPE_WORDS[kind]} | {required} | {default} |'",
                )
        for item in model.fields:
            if item.counted is not None and item.type.kind != "int":
                self.problem(
                    item.line,
                    f"{model.name}.{item.name} is {item.default}, a number of rows; expected"
                    " its Type int",
                )
            elif item.viewed is not None:
                found = model.field(item.viewed)
                joined = found is not None and found.type.kind == "refs" and found.derived
                if item.type.kind != "bool" or not joined:
                    sets = [f.name for f in model.fields if f.type.kind == "refs" and f.derived]
                    self.problem(
                        item.line,
                        f"{model.name}.{item.name} is {item.default}; expected a bool and a"
                        f" refs(User) field of {model.name}"
                        f" ({', '.join(sets) or 'none: add one with Required auto'})",
                    )
            elif item.slugged is not None or item.numbered is not None:
                self.check_made_key(model, item)
            elif item.authored:
                pass  # who created the row: a team's rows (check_access)
            elif (
                item.counted is None
                and item.type.kind != "refs"
                and (item.type.ref != "User" or item.default != "null")
                and item.derived
                and (item.default != "null" or item.type.kind not in COMPARED_KINDS)
            ):
                self.problem(
                    item.line,
                    f"{model.name}.{item.name} is Required auto with Default"
                    f" {item.default or '-'}; a derived field's Default is null, on a field of"
                    f" {', '.join(COMPARED_KINDS)}: it is null until an action sets it (e.g."
                    " '| completed_at | datetime | auto | null | ... |'), or"
                    " count(Model.ref_field) or count(refs_field) on an int",
                )
            if item.renamed_from in (item.name, *names):
                self.problem(
                    item.line,
                    f"{model.name}.{item.name} is 'renamed from {item.renamed_from}', a name this"
                    " model still has; expected the field's old name",
                )
            if item.unique and item.unique != OWNER_SCOPE and item.numbered is None:
                self.check_unique_scope(model, item)  # a number's scope: check_made_key
            if item.type.ref and item.type.ref not in known:
                self.problem(
                    item.line,
                    f"{model.name}.{item.name} refers to unknown model {item.type.ref!r};"
                    f" expected one of {', '.join(sorted(known))}",
                )

    def check_made_key(self, model: Model, item: ModelField) -> None:
        """`slug(title)` is a str made from a str field the client sends; `next(repo_id)` an
        int counted per value of a `ref` field set once (`yes, fixed`), `next()` per owner."""
        if item.slugged is not None:
            source = model.field(item.slugged)
            if item.type != FieldType("str") or source is None or source.type.kind != "str":
                texts = [f.name for f in model.fields if f.type.kind == "str" and not f.derived]
                self.problem(
                    item.line,
                    f"{model.name}.{item.name} is {item.default}; expected Type str (no bounds:"
                    f" the slug's own) made from a str field of {model.name}"
                    f" ({', '.join(texts) or 'none'})",
                )
            elif source.derived:
                self.problem(
                    item.line,
                    f"{model.name}.{item.name} is {item.default}, a derived field; expected a"
                    " field the client sends",
                )
            return
        parent = model.field(item.numbered or "")
        set_once = parent is not None and (
            item.numbered == "owner_id"
            or (parent.type.kind == "ref" and parent.required == "yes" and parent.fixed)
        )
        if item.type != FieldType("int") or not set_once:
            refs = [
                f"next({f.name})"
                for f in model.fields
                if f.type.kind == "ref" and f.required == "yes" and f.fixed
            ]
            self.problem(
                item.line,
                f"{model.name}.{item.name} is {item.default}; expected Type int (no range)"
                f" and next() (per owner) or next(ref_field) of a ref field set once (Required"
                f" 'yes, fixed'): {', '.join(refs) or 'none here'}",
            )

    def check_unique_scope(self, model: Model, item: ModelField) -> None:
        """`unique per x`: x is another `ref` field of the model, whose rows group its values."""
        (scope,) = item.unique or ("",)
        found = model.field(scope)
        if found is not None and found.type.kind == "ref" and scope != item.name:
            return
        refs = [f.name for f in model.fields if f.type.kind == "ref" and f.name != item.name]
        choices = " or ".join(f"unique per {name}" for name in refs if name != "owner_id")
        self.problem(
            item.line,
            f"{model.name}.{item.name} is 'unique per {scope}', but {scope} is not"
            f" {'another' if scope == item.name else 'a'} ref field of {model.name}; expected"
            f" {choices + ', or ' if choices else ''}unique (among the rows of one owner)",
        )

    def model_field(self, line: int, row: list[str]) -> ModelField | None:
        name, type_text, required, default, description = row
        name = _plain(name)
        ok = True
        type_text, unique, problem = _unique_suffix(type_text)
        if problem is not None:  # reported; the field is read as not unique
            self.problem(line, f"{name}: {problem}")
        if not _IDENTIFIER.fullmatch(name):
            self.problem(line, f"field name {name!r}; expected snake_case")
            ok = False
        elif len(name) > FIELD_NAME_MAX_LENGTH:
            self.problem(
                line,
                f"field name {name!r} has {len(name)} characters; expected at most"
                f" {FIELD_NAME_MAX_LENGTH} (it names columns, constraints and code lines)",
            )
            ok = False
        field_type = parse_type(type_text)
        if field_type is None:
            self.problem(line, type_problem(type_text) or f"unknown type {type_text!r}")
            ok = False
        required, _, suffix = (part.strip() for part in required.partition(","))
        fixed = suffix == FIXED
        if required not in REQUIRED_VALUES or suffix not in ("", FIXED):
            written = f"{required}, {suffix}" if suffix else required
            self.problem(
                line,
                f"Required is {written!r}; expected one of {', '.join(REQUIRED_VALUES)},"
                " 'yes, fixed', 'no, fixed' (set at create only)",
            )
            ok = False
        elif required == "auto" and fixed:
            self.problem(
                line,
                f"{name} is 'auto, fixed', but an auto field is set by the system and never sent"
                " by a client; expected auto, or yes, fixed or no, fixed for a field the client"
                " sets at create only",
            )
            ok = False
        if required == "yes" and default not in ("-", ""):
            self.problem(line, f"{name} is required but has default {default!r}; expected '-'")
            ok = False
        if unique is not None and required == "auto":
            self.problem(
                line,
                f"{name} is unique, but the system sets it (Required auto); expected unique on"
                " a field a client sets",
            )
            unique = None
        elif field_type is not None and unique is not None:
            problem = _unique_problem(field_type, _plain(type_text), unique)
            if problem is not None:
                self.problem(line, f"{name}: {problem}")
                unique = None
        if field_type is not None and field_type.kind == "refs":
            if required == "auto" and (field_type.low, field_type.high) != (None, None):
                self.problem(
                    line,
                    f"{name} is {_plain(type_text)}, a set only its callers join: it takes no"
                    " bound; expected refs(User)",
                )
                ok = False
            elif (required == "auto") != (field_type.ref == "User"):
                wanted = "auto" if field_type.ref == "User" else "yes or no"
                self.problem(
                    line,
                    f"{name} is {_plain(type_text)} with Required {required}; expected"
                    f" {wanted} (a refs(User) field is changed only by actions that add or"
                    " remove their caller: 'Sets | field += current user')",
                )
                ok = False
            elif default not in ("-", ""):
                self.problem(
                    line,
                    f"{name}: a refs field takes no default (without ids it is the empty set);"
                    f" write - (got {default!r})",
                )
                ok = False
        if field_type is not None and field_type.kind in ("list", "object", "json"):
            ok = self.check_value_field(line, name, field_type, required, default) and ok
        if not ok or field_type is None:
            return None
        value = None if default in ("-", "", "[]") else _plain(default)
        if required == "no" and value not in (None, "null"):
            problem = _default_problem(field_type, _plain(type_text), value)
            if problem is not None:
                self.problem(line, f"{name}: {problem}")
                return None
        made = ModelField(
            name, field_type, required, value, description, line, fixed=fixed, unique=unique
        )
        if made.slugged is not None:  # a key: unique within the owner (all rows, if public)
            return replace(made, unique=OWNER_SCOPE)
        if made.numbered is not None:  # a key within its ref's rows (the owner's: `next()`)
            return replace(made, unique=(made.numbered,))
        return made

    def check_value_field(
        self, line: int, name: str, field_type: FieldType, required: str, default: str
    ) -> bool:
        """A `list`, `object` or `json` field is one a client sends (not auto); a list's
        default is the empty list (`-` or `[]`), an object's none (`-`) or null."""
        if required == "auto":
            self.problem(
                line, f"{name} is {field_type.kind} with Required auto; expected yes or no"
            )
            return False
        empty = ("-", "", "[]") if field_type.kind == "list" else ("-", "", "null")
        if default.strip() not in empty:
            written = "- or [] (without items it is the empty list)"
            if field_type.kind != "list":
                written = "- or null"
            self.problem(
                line,
                f"{name}: a {field_type.kind} field takes no default; write {written}"
                f" (got {default!r})",
            )
            return False
        return True

    def endpoints(
        self, section: _Section | None, models: tuple[Model, ...]
    ) -> tuple[Endpoint, ...]:
        if section is None:
            return ()
        schemas = set(ERROR_SCHEMAS)
        for model in models:
            response = f"{model.name}Response"
            schemas |= {f"{model.name}Create", f"{model.name}Update", response}
            schemas.add(f"PaginatedResponse[{response}]")
        endpoints: dict[str, Endpoint] = {}
        for sub in section.subsections:
            endpoint = self.endpoint(sub, schemas, models)
            if endpoint is None:
                continue
            if endpoint.key in endpoints:
                self.problem(
                    sub.line, f"endpoint {endpoint.key} is described twice; expected it once"
                )
            endpoints[endpoint.key] = endpoint
        if not endpoints:
            self.problem(section.line, "no endpoint; expected '### METHOD /api/v1/...' sections")
        self.check_searches(endpoints.values(), models)
        self.check_public_reads(endpoints.values(), models)
        return tuple(endpoints.values())

    def check_public_reads(self, endpoints: Iterable[Endpoint], models: tuple[Model, ...]) -> None:
        """A viewer flag (`current user in followed_by`) needs its caller: no read of its
        model may be `Auth | None`, which reads no token (the flag would always be false).
        A number per owner (`next()`) names no row among every owner's: no public read."""
        for endpoint in endpoints:
            model = acted_on(endpoint, models)
            if endpoint.method != "GET" or endpoint.auth or model is None:
                continue
            for item in model.fields:
                if item.numbered == "owner_id":
                    self.problem(
                        endpoint.line,
                        f"{endpoint.key} reads every owner's {model.table}, but {item.name} is"
                        " next(), a number per owner, so it names no row there; expected"
                        " next(ref_field) (a number per parent) or Auth Required",
                    )
                if item.viewed is not None and not endpoint.optional:
                    self.problem(
                        endpoint.line,
                        f"{endpoint.key} reads {model.name} with Auth None, which reads no"
                        f" token, so {item.name} ({item.default}) would always be false;"
                        " expected Auth Optional (anyone, answered for the caller) or Required",
                    )

    def check_searches(self, endpoints: Iterable[Endpoint], models: tuple[Model, ...]) -> None:
        """The lists of one model (flat and nested) search the same fields: the model names
        them once (`search_fields`)."""
        first: dict[str, Endpoint] = {}
        for endpoint in endpoints:
            model = model_of(endpoint.path, models)
            if model is None or not endpoint.search:
                continue
            earlier = first.setdefault(model.name, endpoint)
            if earlier.search != endpoint.search:
                self.problem(
                    endpoint.line,
                    f"{endpoint.key} searches {', '.join(endpoint.search)}, but"
                    f" {earlier.key} (line {earlier.line}) searches"
                    f" {', '.join(earlier.search)}; expected the same q (search ...) on every"
                    f" list of {model.name}",
                )

    def endpoint(
        self, sub: _Section, schemas: set[str], models: tuple[Model, ...]
    ) -> Endpoint | None:
        match = _ENDPOINT_HEADING.fullmatch(sub.title)
        if match is None or match["method"] not in METHODS:
            self.problem(
                sub.line,
                f"endpoint heading {sub.title!r}; expected 'METHOD /path' with METHOD one of"
                f" {', '.join(METHODS)}",
            )
            return None
        path = match["path"].split("?", 1)[0].rstrip("/") or "/"
        table = self.table(sub, ("Aspect", "Detail"))
        if table is None:
            return None
        aspects: dict[str, tuple[int, str]] = {}
        for line, (aspect, detail) in table.rows:
            if aspect not in ("Auth", "Request", "Query Params", *ACTION_ROWS) and not re.fullmatch(
                r"Response \d{3}", aspect
            ):
                self.problem(
                    line,
                    f"unknown row {aspect!r}; expected Auth, Request, Query Params, When, Sets"
                    " or Response NNN",
                )
                continue
            aspects[aspect] = (line, detail)
        if "Auth" not in aspects:
            self.problem(table.line, f"{sub.title}: no 'Auth' row; expected Required or None")
        auth_line, auth_text = aspects.get("Auth", (0, "Required"))
        auth_word = _first_word(auth_text)
        if auth_word.lower() not in (*PUBLIC_AUTH, "required", OPTIONAL_AUTH):
            self.problem(
                auth_line, f"Auth is {auth_word!r}; expected Required, Optional, None or Public"
            )
        optional = auth_word.lower() == OPTIONAL_AUTH
        if optional and match["method"] != "GET":
            self.problem(
                auth_line,
                f"Auth is Optional on a {match['method']}; a write needs its caller: expected"
                " Required (Optional serves GETs to callers with and without a token)",
            )
        auth = auth_word.lower() not in (*PUBLIC_AUTH, OPTIONAL_AUTH)
        request = None
        action: ActionDoc | None = None
        requested = _plain(aspects.get("Request", (0, ""))[1])
        if {*ACTION_ROWS} & set(aspects) or re.match(r"fields\b", requested):
            action = self.action(f"{match['method']} {path}", aspects, models, table.line)
            if action is not None:
                verb = "".join(part.capitalize() for part in action.verb.split("_"))
                model = model_of(path, models)
                request = f"{model.name}{verb}Request" if model and action.takes else None
        elif "Request" in aspects:
            line, detail = aspects["Request"]
            request = _first_word(detail)
            if request not in schemas:
                self.problem(
                    line, f"Request names unknown schema {request!r}; {_expected(schemas)}"
                )
        responses: dict[int, str] = {}
        for aspect, (line, detail) in aspects.items():
            status = re.fullmatch(r"Response (\d{3})", aspect)
            if status is None:
                continue
            name = "No content" if detail.lower().startswith("no content") else _first_word(detail)
            if name not in schemas | {"No content"}:
                self.problem(line, f"{aspect} names unknown schema {name!r}; {_expected(schemas)}")
            responses[int(status[1])] = name
        if not any(200 <= status < 300 for status in responses):
            self.problem(table.line, f"{sub.title}: no 2xx response; expected e.g. 'Response 200'")
        self.check_conflicts(match["method"], path, responses, table.line, models)
        query: tuple[QueryParam, ...] = ()
        if "Query Params" in aspects:
            line, detail = aspects["Query Params"]
            query = tuple(_query_params(detail))
            self.check_filters(match["method"], path, query, line, models)
            self.check_expand(match["method"], path, query, line, models)
        if action is not None:
            self.check_action_responses(path, action, responses, table.line, models)
        endpoint = Endpoint(match["method"], path, auth, request, responses, query, sub.line)
        return replace(endpoint, action=action, optional=optional)

    def action(
        self,
        key: str,
        aspects: dict[str, tuple[int, str]],
        models: tuple[Model, ...],
        line: int,
    ) -> ActionDoc | None:
        """`When`, `Sets` and `Request | fields ...`: an action on one row of a model of this
        doc, each problem at the line of its row."""
        method, path = key.split(" ", 1)
        found = ACTION_PATH.fullmatch(path)
        model = next((m for m in models if found and m.table == found["rows"]), None)
        if found is None or model is None or method not in ("POST", "DELETE"):
            tables = ", ".join(f"POST /api/v1/{m.table}/{{id}}/<verb>" for m in models)
            self.problem(
                line,
                f"{key} has an action's rows (When, Sets, Request fields); an action is a POST"
                f" (or the DELETE that undoes a join) after a row's key of a model of this doc:"
                f" expected {tables}",
            )
            return None
        lines = {name: aspects.get(name, (line, ""))[0] for name in ("Sets", "When", "Request")}
        takes = _plain(aspects.get("Request", (0, ""))[1])
        if takes and not re.match(r"fields\b", takes):
            self.problem(
                lines["Request"],
                f"an action's Request is 'fields a, b' (the model fields its body gives); got"
                f" {takes!r}",
            )
        action, problems = read_action(
            model,
            found["verb"],
            found["key"],
            _plain(aspects.get("Sets", (0, ""))[1]),
            _plain(aspects.get("When", (0, ""))[1]),
            re.sub(r"^fields\b", "", takes),
            method,
        )
        for message in problems:
            row = message.split(" ", 1)[0]
            self.problem(lines.get(row, line), message)
        return action

    def check_action_responses(
        self,
        path: str,
        action: ActionDoc,
        responses: dict[int, str],
        line: int,
        models: tuple[Model, ...],
    ) -> None:
        """An action answers the row (200), 404 for a row the caller cannot see, and 409
        when its rule does not hold."""
        model = model_of(path, models)
        assert model is not None
        wanted = {200: f"{model.name}Response", 404: "NotFoundError"}
        if action.when:
            wanted[409] = "ConflictError"
        for status, schema in wanted.items():
            if responses.get(status) != schema:
                self.problem(
                    line,
                    f"action {action.verb} answers {status} {schema}; expected"
                    f" '| Response {status} | {schema} |'",
                )

    def check_conflicts(
        self,
        method: str,
        path: str,
        responses: dict[int, str],
        line: int,
        models: tuple[Model, ...],
    ) -> None:
        """An update of a model with a unique field answers 409 when the value is taken: the
        doc lists it, as every status a route answers (a create's 409 is a platform one).
        Not for a field set at create only within a parent set at create only: no update
        changes them."""
        model = model_of(path, models)
        if method not in ("PUT", "PATCH") or model is None or 409 in responses:
            return
        changeable = {f.name for f in model.fields if not f.fixed and not f.derived} - {"owner_id"}
        unique = [
            item.name
            for item in model.fields
            if item.unique is not None and changeable & {item.name, *item.unique}
        ]
        if unique:
            self.problem(
                line,
                f"{method} {path} changes {model.name}, whose {' and '.join(unique)}"
                f" {'is' if len(unique) == 1 else 'are'} unique, but lists no 409 for a value"
                " another row has; expected"
                " '| Response 409 | ConflictError |'",
            )

    def check_filters(
        self,
        method: str,
        path: str,
        query: tuple[QueryParam, ...],
        line: int,
        models: tuple[Model, ...],
    ) -> None:
        """A list of a model of this doc filters by the model's fields: a query parameter that
        names none would be generated as nothing and ignored, silently. A nested list
        (`/api/v1/projects/{project_id}/tasks`) filters its model's rows too. `sort`, `q`
        and `<field>__<op>` name fields of a kind they can order, search or compare."""
        model = next(
            (m for m in models if _NESTED_LIST.sub("/api/v1/", path) == f"/api/v1/{m.table}"), None
        )
        if method != "GET" or model is None:
            for param in query:
                if param.name in (SORT_PARAM, SEARCH_PARAM) or split_filter(param.name)[1]:
                    self.problem(
                        line,
                        f"{param.name!r} is a list's query parameter; expected it on a"
                        " GET of a collection (GET /api/v1/<rows>)",
                    )
            return
        fields = [f.name for f in model.fields if f.required != "auto"]
        for param in query:
            found = model.field(param.name)
            if found is not None and found.type.kind in ("object", "json"):
                self.problem(
                    line,
                    f"query parameter {param.name!r} names {model.name}.{param.name}, a"
                    f" {found.type.kind} value, which a list cannot filter by equality; expected"
                    " a field of another type",
                )
                continue
            if param.name == SORT_PARAM:
                self.check_sort(model, param, line)
                continue
            if param.name == SEARCH_PARAM:
                self.check_search(model, param, line)
                continue
            field, operator = split_filter(param.name)
            if operator is not None and model.field(field) is not None:
                self.check_operator(model, param.name, line)
                continue
            if param.name in (*LIST_PARAMS, EXPAND_PARAM, *fields):
                continue
            close = difflib.get_close_matches(param.name, fields, n=1)
            choices = (
                f"{', '.join(LIST_PARAMS)}, sort, q, a field: {', '.join(fields)}, or a field"
                f" with an operator (`<field>__<op>`, op one of {', '.join(OPERATORS)})"
            )
            expected = f"{close[0]!r} (or {choices})" if close else choices
            self.problem(
                line,
                f"query parameter {param.name!r} names no field of {model.name} that a client"
                f" sets, so no list would filter by it; expected {expected}",
            )

    def check_sort(self, model: Model, param: QueryParam, line: int) -> None:
        """`sort (priority, due_date; default -priority)`: fields with an order, each once; the
        default made of them (or of `created_at`, the order without a sort)."""
        sort = ListSort.of(param.detail)
        example = "sort (priority, due_date, created_at; default -created_at)"
        if not sort.keys:
            self.problem(line, f"sort lists no field; expected e.g. {example}")
        for name in sorted({k for k in sort.keys if sort.keys.count(k) > 1}):
            self.problem(line, f"sort lists {name!r} twice; expected each field once")
        for name in sort.keys:
            problem = _sort_problem(model, name)
            if problem is not None:
                self.problem(line, f"sort names {name!r}: {problem}")
        default = sort.default.split(",")
        keys = [key.removeprefix("-") for key in default]
        allowed = (*sort.keys, "created_at")
        if any(key not in allowed for key in keys) or len(set(keys)) < len(keys):
            self.problem(
                line,
                f"sort's default {sort.default!r} is not made of the listed fields; expected"
                f" '; default' and comma-separated keys among {', '.join(allowed)}, each once,"
                " with - for descending",
            )
        elif len(keys) > SORT_MAX_KEYS:
            self.problem(line, f"sort's default has {len(keys)} keys; at most {SORT_MAX_KEYS}")

    def check_search(self, model: Model, param: QueryParam, line: int) -> None:
        """`q (search title, description)`: text fields of the model."""
        words = param.detail.strip()
        if not re.match(r"search\b", words):
            self.problem(
                line,
                f"q ({words}): expected 'q (search field, ...)', naming the text fields it"
                " searches",
            )
            return
        texts = [f.name for f in model.fields if f.type.kind == "str"]
        named = QueryParam(param.name, words.removeprefix("search")).names
        if not named:
            self.problem(line, f"q searches no field; expected q (search {', '.join(texts)})")
        for name in named:
            item = model.field(name)
            if item is None or item.type.kind != "str":
                self.problem(
                    line,
                    f"q searches {name!r}, which is no str field of {model.name}; expected"
                    f" {', '.join(texts) or 'a str field'}",
                )

    def check_operator(self, model: Model, name: str, line: int) -> None:
        """`priority__gte`: the operator compares the field's kind (`isnull`: a nullable one)."""
        field, operator = split_filter(name)
        item = model.field(field)
        assert item is not None
        assert operator is not None
        kinds = OPERATOR_KINDS[operator]
        if item.required == "auto" and field not in ("created_at", "updated_at"):
            self.problem(
                line, f"{name}: {field} is set by the system; expected a field a client sets"
            )
        elif item.type.kind not in kinds:
            fitting = [f"{field}__{op}" for op in OPERATORS if item.type.kind in OPERATOR_KINDS[op]]
            self.problem(
                line,
                f"{name}: {operator} compares {', '.join(kinds)} fields, and {field} is"
                f" {item.type.kind}; expected one of {', '.join(fitting) or field}",
            )
        elif operator == "isnull" and not item.nullable:
            self.problem(
                line,
                f"{name}: {field} is never null (Required yes, or a default), so every row"
                f" would match one side; expected isnull on a nullable field",
            )

    def check_expand(
        self,
        method: str,
        path: str,
        query: tuple[QueryParam, ...],
        line: int,
        models: tuple[Model, ...],
    ) -> None:
        """`expand (project, labels)` names references of the endpoint's model, on a GET."""
        param = next((p for p in query if p.name == EXPAND_PARAM), None)
        if param is None:
            return
        model = next(
            (
                m
                for m in models
                if path == f"/api/v1/{m.table}" or path.startswith(f"/api/v1/{m.table}/")
            ),
            None,
        )
        if method != "GET":
            self.problem(line, f"{method} takes no expand; expected it on a GET or a list only")
            return
        if model is None:
            return
        names = list(expandable(model))
        allowed = (
            ", ".join(names) or f"none: {model.name} has no ref field named x_id or refs field"
        )
        if not param.names:
            self.problem(line, f"expand lists no field; expected expand (name, ...) of {allowed}")
        for name in param.names:
            if name not in names:
                self.problem(
                    line,
                    f"expand names {name!r}, which is no ref or refs field of {model.name}"
                    f" (project for project_id); expected one of {allowed}",
                )

    def file_plan(self, section: _Section | None) -> tuple[PlannedFile, ...]:
        if section is None:
            return ()
        table = self.table(section, FILE_PLAN_COLUMNS)
        if table is None:
            return ()
        planned = []
        for line, (_, path, action, description) in table.rows:
            path = _plain(path)
            if not any(re.fullmatch(pattern, path) for pattern in FILE_PLAN_LAYOUT):
                self.problem(
                    line,
                    f"File Plan path {path!r} is outside the layout; expected one of"
                    f" {', '.join(p.replace(chr(92), '') for p in FILE_PLAN_LAYOUT)}",
                )
                continue
            if action not in ("CREATE", "MODIFY"):
                self.problem(line, f"File Plan action {action!r}; expected CREATE or MODIFY")
                continue
            planned.append(PlannedFile(path, action, description, line))
        return tuple(planned)

    def table(self, section: _Section, columns: tuple[str, ...]) -> _Table | None:
        if not section.tables:
            self.problem(
                section.line, f"'{section.title}' has no table; expected columns {columns}"
            )
            return None
        table = section.tables[0]
        if tuple(table.header) != columns:
            self.problem(
                table.line,
                f"table columns are {tuple(table.header)}; expected {columns}",
            )
            return None
        return table


def expandable(model: Model) -> dict[str, ModelField]:
    """What `expand` may name on `model`: a `ref` field `project_id` as `project` (its row beside
    the id; a person's as `{id, name}`), not a name another field of the model has; a `refs`
    field `labels` as `labels` (its rows in place of their ids: one key cannot hold both)."""
    names = {f.name for f in model.fields}
    found = {}
    for item in model.fields:
        chosen = item.required != "auto" or item.authored  # an author too: `{id, name}`
        if item.type.kind == "ref" and item.name.endswith("_id") and chosen:
            found[item.name.removesuffix("_id")] = item
    singles = {name: item for name, item in found.items() if name not in names}
    many = {f.name: f for f in model.fields if f.type.kind == "refs" and f.type.ref != "User"}
    return singles | many  # who joined a row (refs(User)): ids only, never their accounts


def _sort_problem(model: Model, name: str) -> str | None:
    """Why a list cannot sort by field `name`, or None."""
    item = model.field(name)
    if item is None or (item.required == "auto" and name not in ("created_at", "updated_at")):
        return f"no field of {model.name} a client sets (or created_at, updated_at)"
    if item.type.kind not in SORTABLE:
        return f"a {item.type.kind} has no order; expected a field of {', '.join(SORTABLE)}"
    if item.type.kind == "str" and (
        item.type.high is None or item.type.high > SORT_TEXT_MAX_LENGTH
    ):
        return (
            "a sort key travels in the cursor, so its text is at most"
            f" {SORT_TEXT_MAX_LENGTH} characters; expected str(..{SORT_TEXT_MAX_LENGTH}) or shorter"
        )
    return None


def parse_type(text: str) -> FieldType | None:
    """The type a Type cell names, or None if it names none (`type_problem` says why)."""
    found = _read_type(text)
    return found if isinstance(found, FieldType) else None


def type_problem(text: str) -> str | None:
    """What is wrong with a Type cell and what to write instead; None when it is right."""
    found = _read_type(text)
    return None if isinstance(found, FieldType) else found


def _read_type(text: str) -> FieldType | str:
    text = _plain(text)
    listed = _LIST.fullmatch(text)
    if listed is not None:
        return _read_list(text, listed)
    if _MATCHING in text:
        return _read_matching(text)
    for kind, pattern in _TYPE_PATTERNS.items():
        match = pattern.fullmatch(text)
        if match is None:
            continue
        groups = match.groupdict()
        low, high = groups.get("low"), groups.get("high")
        choices = tuple(c.strip() for c in (groups.get("choices") or "").split(","))
        whole_bounds = kind in ("str", "int", "refs")
        if whole_bounds and any(v is not None and "." in v for v in (low, high)):
            name = f"refs({groups['model']})" if kind == "refs" else kind
            whole = f"{name}({_whole(low, math.ceil)}..{_whole(high, math.floor)})"
            return f"{text}: the bounds of {name} are whole numbers; write e.g. {whole}"
        number = int if whole_bounds else float
        field_type = FieldType(
            kind,
            low=number(low) if low is not None else None,
            high=number(high) if high is not None else None,
            choices=choices if kind == "enum" else (),
            ref=groups.get("model"),
            precision=int(groups["precision"]) if groups.get("precision") else None,
            scale=int(groups["scale"]) if groups.get("scale") else None,
            object=groups.get("object"),
        )
        return _impossible(text, field_type) or field_type
    return f"unknown type {text!r}; expected one of: {TYPE_GRAMMAR}"


def _read_list(text: str, listed: re.Match[str]) -> FieldType | str:
    """`list[str(1..30)](..10)`: the item's type, and the bounds of the count."""
    item = _read_type(listed["item"])
    if isinstance(item, str):
        return item
    if item.kind not in LIST_ITEM_KINDS:
        return (
            f"{text}: a list holds str(..), int(..), enum(...) or date items, not"
            f" {listed['item'].strip()}; write e.g. list[str(1..30)](..10)"
        )
    low, high = listed["low"], listed["high"]
    if any(v is not None and "." in v for v in (low, high)):
        whole = f"list[{listed['item']}]({_whole(low, math.ceil)}..{_whole(high, math.floor)})"
        return f"{text}: the bounds of a list's count are whole numbers; write e.g. {whole}"
    field_type = FieldType(
        "list",
        low=int(low) if low is not None else None,
        high=int(high) if high is not None else None,
        item=item,
    )
    return _list_count_problem(text, field_type, listed["item"]) or field_type


def _list_count_problem(text: str, field_type: FieldType, item: str) -> str | None:
    low, high, name = field_type.low, field_type.high, f"list[{item}]"
    if any(v is not None and v < 0 for v in (low, high)):
        return f"{text}: a count is never negative; write e.g. {name}(..{int(high or 10)})"
    if low is not None and high is not None and low > high:
        return (
            f"{text}: the range is empty (its lower bound is above its upper one);"
            f" write {name}({int(high)}..{int(low)})"
        )
    if high is not None and high < 1:
        return f"{text}: a list of at most {int(high)} items holds none; write e.g. {name}(..1)"
    if any(v is not None and v > REFS_MAX_ITEMS for v in (low, high)):
        return (
            f"{text}: at most {REFS_MAX_ITEMS} items may be sent at once; write e.g."
            f" {name}(..{REFS_MAX_ITEMS})"
        )
    return None


def _read_matching(text: str) -> FieldType | str:
    """`str(..7) matching ^#[0-9a-f]{6}$`: a str whose every value has a match of the
    regular expression, one the generated tests can find a value of."""
    type_text, _, pattern = text.partition(_MATCHING)
    found = _read_type(type_text)
    if isinstance(found, str):
        return found
    pattern = pattern.strip()
    if found.kind != "str" or found.pattern is not None:
        return f"{text}: only a str takes 'matching REGEX'; write e.g. str(..7) matching {pattern}"
    problem = pattern_problem(pattern)
    if problem is not None:
        return f"{text}: {problem}"
    try:
        sample = pattern_sample(pattern, found.low, found.high)
    except (ValueError, re.error):
        sample = None
    if sample is None:
        return (
            f"{text}: found no text of {type_text.strip()} that {pattern} matches (the generated"
            " tests send one); write bounds that let one fit, or a simpler pattern"
        )
    return replace(found, pattern=pattern)


def _unique_suffix(text: str) -> tuple[str, tuple[str, ...] | None, str | None]:
    """A Type cell as (its type, its `unique` or `unique per x` suffix as `ModelField.unique`,
    what is wrong with the suffix)."""
    rest, suffixes = text.strip(), []
    while (match := _UNIQUE_SUFFIX.search(rest)) is not None:
        suffixes.append(match)
        rest = rest[: match.start()]
    if not suffixes:
        return text, None, None
    scopes = [match["scope"] for match in suffixes if match["scope"]]
    once = f"{rest} unique" + (f" per {scopes[0]}" if scopes else "")
    if len(suffixes) > 1:
        return rest, None, f"unique is written {len(suffixes)} times; write it once: {once}"
    (match,) = suffixes
    if match["per"] and not (match["scope"] and _IDENTIFIER.fullmatch(match["scope"])):
        return (
            rest,
            None,
            f"'{text.strip()}' names no field after 'unique per'; expected the name of a ref"
            f" field, as in {rest} unique per project_id",
        )
    return rest, (match["scope"],) if match["scope"] else OWNER_SCOPE, None


def _unique_problem(field_type: FieldType, type_text: str, unique: tuple[str, ...]) -> str | None:
    """Why a field of this type cannot be unique, and what to write instead; None if it can."""
    kind = field_type.kind
    instead = "write int or str(...) for a key, or drop unique"
    if kind in ("list", "object", "json"):
        return f"{type_text} unique: a {kind} value is no key; {instead}"
    if kind == "float":
        return (
            f"{type_text} unique: a float is a binary fraction (0.1 + 0.2 is not 0.3), so values"
            f" that read the same may differ: no key; {instead}"
        )
    if kind == "decimal":
        return (
            f"{type_text} unique: SQLite keeps a Decimal as a binary float, so values PostgreSQL"
            f" tells apart may collide there: no key; {instead}"
        )
    values = _value_count(field_type)
    if values is not None and values < UNIQUE_MIN_VALUES:
        scope = "per owner" if unique == OWNER_SCOPE else f"per {unique[0]}"
        return (
            f"{type_text} unique: {type_text} has {values} values, so at most {values} rows"
            f" {scope} could exist; a unique field takes at least {UNIQUE_MIN_VALUES} values:"
            " write a type with more, or drop unique"
        )
    return None


def _value_count(field_type: FieldType) -> int | None:
    """How many values a type has, when they are few enough to count; None otherwise."""
    if field_type.kind == "bool":
        return 2
    if field_type.kind == "enum":
        return len(field_type.choices)
    low, high = field_type.low, field_type.high
    if field_type.kind == "int" and low is not None and high is not None:
        return int(high - low) + 1
    return None


def unique_index(doc: FeatureDoc, model: Model, item: ModelField) -> tuple[str, ...] | None:
    """The columns of the unique index a field gets, the field last; None if it is not unique.

    `unique` is among one owner's rows, except on a model whose GET routes are public:
    they address every owner's rows, so there it is among all rows (the field alone)."""
    return unique_columns(item, everyone=reads_every_owner(doc, model))


def unique_columns(
    item: ModelField, *, everyone: bool, name: str | None = None
) -> tuple[str, ...] | None:
    """`unique_index()` of a field named `name` (its own name by default), on a model whose
    reads are public (`everyone`) or not."""
    if item.unique is None:
        return None
    scope = () if everyone and item.unique == OWNER_SCOPE else item.unique
    return (*scope, name or item.name)


def reads_every_owner(doc: FeatureDoc, model: Model) -> bool:
    """Whether a GET route of the model is public (Auth None): it reads every owner's rows."""
    return any(
        endpoint.method == "GET"
        and not endpoint.auth
        and model_of(endpoint.path, doc.models) is model
        for endpoint in doc.endpoints
    )


@dataclass(frozen=True)
class ListIndexes:
    """The indexes a model's lists need beyond creation order (docs/performance.md, "Lists
    at scale"): per field a list sorts or range-filters by, (owner_id, field, id), which
    serves page 1 and a deep cursor alike; per field `q` or `__contains` searches, a trigram
    index on PostgreSQL (SQLite scans)."""

    ordered: tuple[str, ...] = ()
    searched: tuple[str, ...] = ()


RANGE_OPERATORS = ("gte", "gt", "lte", "lt")


def list_indexes(doc: FeatureDoc, model: Model) -> ListIndexes:
    """What the GET lists of `model` (flat or nested) sort, range-filter and search by."""
    ordered: dict[str, None] = {}
    searched: dict[str, None] = {}
    for endpoint in doc.endpoints:
        collection = _NESTED_LIST.sub("/api/v1/", endpoint.path) == f"/api/v1/{model.table}"
        if endpoint.method != "GET" or not collection:
            continue
        # One owner's rows in a key's order: a flat list with a caller. Under a parent, or
        # public (every owner's rows), the owner's index would not give the order.
        owners = endpoint.auth and endpoint.path == f"/api/v1/{model.table}"
        sort = endpoint.sort
        for key in sort.taken if sort is not None and owners else ():
            ordered.setdefault(key)
        for param in endpoint.query:
            field, operator = split_filter(param.name)
            if operator in RANGE_OPERATORS and owners:
                ordered.setdefault(field)
            elif (
                operator == "contains" and (item := model.field(field)) and item.type.kind == "str"
            ):
                searched.setdefault(field)
        searched.update(dict.fromkeys(endpoint.search))
    ordered.pop("created_at", None)  # the index every model has
    return ListIndexes(tuple(ordered), tuple(searched))


def search_fields(doc: FeatureDoc, model: Model) -> tuple[str, ...]:
    """The fields the `q` of the model's lists searches (the model's `search_fields`)."""
    searches = [e.search for e in doc.endpoints if model_of(e.path, doc.models) is model]
    return tuple(dict.fromkeys(name for fields in searches for name in fields))


def _kind(model: Model, name: str) -> str | None:
    item = model.field(name)
    return None if item is None else item.type.kind


def model_of(path: str, models: tuple[Model, ...]) -> Model | None:
    """The model whose rows a route addresses: the last segment of its path that is not a
    parameter names its table (`/api/v1/projects/{project_id}/tasks/{id}`: tasks)."""
    names = [part for part in path.split("/") if part and not part.startswith("{")]
    found = next((m for m in models if names and names[-1] == m.table), None)
    action = ACTION_PATH.fullmatch(path)
    if found is None and action is not None:  # `/api/v1/tasks/{id}/close`: tasks
        return next((m for m in models if m.table == action["rows"]), None)
    return found


def acted_on(endpoint: Endpoint, models: tuple[Model, ...]) -> Model | None:
    """The model an endpoint's rows are: an action's own (its verb may name a table too)."""
    if endpoint.action is not None:
        return next((m for m in models if m.table == endpoint.action.rows), None)
    return model_of(endpoint.path, models)


def _whole(bound: str | None, rounded: Callable[[float], int]) -> str:
    return "" if bound is None else str(rounded(float(bound)))


def _impossible(text: str, field_type: FieldType) -> str | None:
    """Why no value can meet the type's constraints, or no database can store it; and what
    to write instead. None when it is possible."""
    kind, low, high = field_type.kind, field_type.low, field_type.high
    if kind == "enum":
        return _enum_problem(field_type.choices)
    if low is not None and high is not None and low > high:
        name = f"refs({field_type.ref})" if kind == "refs" else kind
        return (
            f"{text}: the range is empty (its lower bound is above its upper one);"
            f" write {name}({number_text(high)}..{number_text(low)})"
        )
    if kind == "refs":
        return _count_problem(text, field_type)
    if kind == "str" and any(v is not None and v < 0 for v in (low, high)):
        return f"{text}: a length is never negative; write e.g. str(..{int(high or 1)})"
    if kind == "str" and high is not None and high < 1:
        return f"{text}: no text is at most {int(high)} characters long; write e.g. str(..1)"
    if kind == "int" and any(v is not None and not INT64[0] <= v <= INT64[1] for v in (low, high)):
        return (
            f"{text}: past the widest integer column (BIGINT); write bounds within"
            f" {INT64[0]}..{INT64[1]}"
        )
    precision, scale = field_type.precision, field_type.scale
    if precision is not None and not 1 <= precision <= DECIMAL_PRECISION:
        return (
            f"{text}: a precision is 1 to {DECIMAL_PRECISION} digits (PostgreSQL's NUMERIC);"
            " write e.g. Decimal(12, 2)"
        )
    if precision is not None and scale is not None and scale > precision:
        return (
            f"{text}: the scale (digits after the point) is larger than the precision (all"
            f" digits); write Decimal({scale}, {precision})"
        )
    return None


def _count_problem(text: str, field_type: FieldType) -> str | None:
    """What is wrong with the count bound of a `refs(Model)(MIN..MAX)`, if anything."""
    low, high, name = field_type.low, field_type.high, f"refs({field_type.ref})"
    if any(v is not None and v < 0 for v in (low, high)):
        return f"{text}: a count is never negative; write e.g. {name}(..{int(high or 20)})"
    if high is not None and high < 1:
        return f"{text}: a set of at most {int(high)} ids holds none; write e.g. {name}(..1)"
    if any(v is not None and v > REFS_MAX_ITEMS for v in (low, high)):
        return (
            f"{text}: at most {REFS_MAX_ITEMS} ids may be sent at once; write e.g."
            f" {name}(..{REFS_MAX_ITEMS})"
        )
    return None


def _enum_problem(choices: tuple[str, ...]) -> str | None:
    """What is wrong with an enum's values, with the enum to write instead."""
    suggested = list(
        dict.fromkeys(
            re.sub(r"[^a-z0-9]+", "_", choice.lower()).strip("_") for choice in choices if choice
        )
    )
    suggested = [c if c[:1].isalpha() else f"v_{c}" for c in suggested if c]
    write = f"write enum({', '.join(suggested)})" if suggested else "write e.g. enum(low, high)"
    if not all(choices):
        return f"enum has an empty value; {write}"
    duplicated = sorted({c for c in choices if choices.count(c) > 1})
    if duplicated:
        return f"enum lists {', '.join(map(repr, duplicated))} twice; {write}"
    if all(_IDENTIFIER.fullmatch(c.lower()) for c in choices) and list(choices) != suggested:
        if len(set(suggested)) < len(choices):
            return f"enum values must be lower-case, and then some are the same; {write}"
        return f"enum values must be lower-case; {write}"
    if not all(_IDENTIFIER.fullmatch(c) for c in choices):
        return f"enum values are snake_case words that start with a letter; {write}"
    return None


def _default_problem(field_type: FieldType, type_text: str, default: str) -> str | None:
    """Why `default` is no value of the type, and what to write instead; None when it is
    one. It becomes code and a column default: it must be what the type takes."""
    kind, low, high = field_type.kind, field_type.low, field_type.high
    wrong = f"default {default!r} is not a value of {type_text}"
    if kind == "bool" and default not in ("true", "false"):
        return f"{wrong}; write true or false"
    if kind == "enum" and default not in field_type.choices:
        return f"{wrong}; write one of {', '.join(field_type.choices)}"
    if kind == "datetime" and default != "utcnow()":
        return f"{wrong} this generator can store; write utcnow() (the time of the insert) or -"
    if kind == "uuid" and default != "uuid4()" and not _UUID.fullmatch(default):
        return f"{wrong}; write uuid4(), a UUID such as {_UUID_EXAMPLE}, or -"
    if kind == "ref":
        return f"a reference takes no default; write - or null (got {default!r})"
    if kind == "date":
        try:
            date.fromisoformat(default)
        except ValueError:
            return f"{wrong}; write a day as YYYY-MM-DD, such as 2026-01-31"
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", default):
            return f"{wrong}; write a day as YYYY-MM-DD, such as 2026-01-31"
    if kind == "decimal":
        rule = DecimalString(field_type.precision, field_type.scale or 0)
        if len(default) > rule.max_length or not re.fullmatch(rule.pattern, default):
            return f"{wrong}; write {rule.message.removeprefix('must be ')}"
    if kind == "str":
        if len(default) > TEXT_DEFAULT_MAX_LENGTH:
            return (
                f"a default of {len(default)} characters; write one of at most"
                f" {TEXT_DEFAULT_MAX_LENGTH} (longer text belongs in the rows, not the code)"
            )
        too = "short" if low is not None and len(default) < low else None
        too = "long" if high is not None and len(default) > high else too
        if too:
            return f"default {default!r} is too {too} for {type_text}; write one that fits, or -"
        if field_type.pattern is not None and not re.search(field_type.pattern, default):
            return f"default {default!r} has no match of {field_type.pattern}; write one, or -"
    if kind in ("int", "float"):
        pattern = r"-?\d+" if kind == "int" else r"-?\d+(\.\d+)?"
        if not re.fullmatch(pattern, default):
            return f"{wrong}; write a number such as {number_text(low or 0)}"
        value = float(default)
        if kind == "int" and low is None and high is None:
            low, high = INT32
        if (low is not None and value < low) or (high is not None and value > high):
            return f"default {default} is outside {type_text}; write one within it, or -"
    return None


def number_text(value: float | None) -> str:
    """A bound as the doc and SQL write it: `5`, `0.5`."""
    assert value is not None
    return str(int(value)) if float(value).is_integer() else repr(value)


def parse_doc(path: Path, known_models: frozenset[str] = frozenset()) -> FeatureDoc:
    """Parse the doc at `path`; raise `InvalidDoc` listing every problem found."""
    return parse_doc_text(path.read_text(encoding="utf-8"), path, known_models)


def parse_doc_text(text: str, path: Path, known_models: frozenset[str] = frozenset()) -> FeatureDoc:
    """Parse a doc's `text` (problems are reported against `path`)."""
    reader = _Reader(path, known_models)
    doc = reader.read(text)
    if reader.problems:
        raise InvalidDoc(sorted(reader.problems, key=lambda p: p.line))
    return doc


def _sections(tokens: list[Token]) -> tuple[int, str, list[_Section]]:
    """Group the token stream into `##` sections with `###` subsections."""
    title, title_line = "", 1
    sections: list[_Section] = []
    current: _Section | None = None
    list_depth = 0
    for index, token in enumerate(tokens):
        line = (token.map[0] + 1) if token.map else 0
        if token.type == "heading_open":
            text = tokens[index + 1].content.strip()
            if token.tag == "h1":
                title, title_line, current = text, line, None
            elif token.tag == "h2":
                current = _Section(text, line)
                sections.append(current)
            elif token.tag == "h3" and sections:
                current = _Section(text, line)
                sections[-1].subsections.append(current)
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            list_depth += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
        elif current is None:
            continue
        elif token.type == "table_open":
            current.tables.append(_read_table(tokens, index, line))
        elif token.type == "paragraph_open" and list_depth == 0:
            current.paragraphs.append(tokens[index + 1].content.strip())
        elif token.type == "list_item_open" and list_depth == 1:
            current.items.append(tokens[index + 2].content.strip())
    return title_line, title, sections


def _read_table(tokens: list[Token], start: int, line: int) -> _Table:
    header: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    row: list[str] = []
    row_line = line
    for token in tokens[start + 1 :]:
        if token.type == "table_close":
            break
        if token.type == "tr_open":
            row, row_line = [], (token.map[0] + 1) if token.map else line
        elif token.type == "inline":
            row.append(token.content.strip())
        elif token.type == "tr_close":
            if not header:
                header = row
            else:
                rows.append((row_line, row))
    return _Table(header, rows, line)


def _plain(text: str) -> str:
    return text.strip().strip("`").strip()


def _first_word(text: str) -> str:
    return _plain(text).split(" ", 1)[0].strip("`")


def _expected(schemas: set[str]) -> str:
    return f"expected one of {', '.join(sorted(schemas))} or 'No content'"


def _query_params(text: str) -> Iterator[QueryParam]:
    """`page (int, default 1), limit (int, default 20)` -> the names and their details."""
    depth, start = 0, 0
    for index, char in enumerate(text + ","):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            part = text[start:index].strip()
            start = index + 1
            match = re.match(r"`?(?P<name>[a-z][a-z0-9_]*)`?\s*(?:\((?P<detail>.*)\))?$", part)
            if match:
                yield QueryParam(match["name"], match["detail"] or "")
