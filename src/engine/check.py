"""Compare design docs with what actually runs: the app's OpenAPI document, its models, its files.

The OpenAPI document is generated from the live routes, so it tells each route's
method, path, security, request schema, documented statuses and query parameters;
the SQLAlchemy models tell columns, types, nullability and defaults.
"""

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import (
    Boolean,
    Date,
    Enum,
    Float,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    Uuid,
    inspect,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.schema import Column
from sqlalchemy.types import DateTime, TypeEngine

from src.api.expand import expanded_names
from src.api.queries import sort_keys
from src.api.routing import WRITE_METHODS
from src.api.v1.router import EVERY_ROUTE_STATUSES, EVERY_WRITE_STATUSES
from src.engine.doc import (
    EXPAND_PARAM,
    INT64,
    LIST_MAX_ITEMS,
    REFS_MAX_ITEMS,
    SORT_PARAM,
    Endpoint,
    FeatureDoc,
    FieldType,
    Model,
    ModelField,
    link_of,
    list_indexes,
    model_of,
    module_name,
    reads_every_owner,
    table_name,
    unique_index,
)
from src.engine.generate import (
    PLATFORM_QUERY_PARAMS,
    PLATFORM_STATUSES,
    counts_of,
    list_item,
    nested_create_schema,
    route_shape,
)
from src.models.base import JsonDocument, ValueList
from src.schemas.base import INT32, TEXT_MAX_LENGTH

AUTO_FIELDS = ("id", "owner_id", "created_at", "updated_at", "version")
SYSTEM_COLUMNS = ("version",)
"""Columns every Entity has that a doc need not list (docs/design-docs.md says why)."""
# SQLAlchemy's Enum is a String and its Float a Numeric: tell them apart.
_NOT_THIS_KIND: dict[str, type[TypeEngine[Any]]] = {"str": Enum, "decimal": Float}
_COLUMN_TYPES: dict[str, type[TypeEngine[Any]]] = {
    "uuid": Uuid,
    "ref": Uuid,
    "str": String,
    "int": Integer,
    "float": Float,
    "decimal": Numeric,
    "bool": Boolean,
    "date": Date,
    "datetime": DateTime,
    "enum": Enum,
    "list": ValueList,
    "object": JsonDocument,
    "json": JsonDocument,
}
_DECORATED = ("list", "object", "json")
"""Kinds whose column is a type of src/models/base.py itself, not what it decorates."""
NO_NUL_PATTERN = "^[^\\u0000]*$"
"""The pattern the JSON schema of free text shows (`NoNul`): no pattern of the doc's."""


@dataclass(frozen=True)
class Mismatch:
    doc: Path
    line: int
    subject: str
    problem: str


def check_docs(
    docs: list[FeatureDoc], app: FastAPI, base: type[DeclarativeBase], root: Path
) -> list[Mismatch]:
    openapi = app.openapi()
    models = {mapper.class_.__name__: mapper.class_ for mapper in base.registry.mappers}
    mismatches: list[Mismatch] = []
    for doc in docs:
        mismatches += _check_endpoints(doc, openapi)
        for model in doc.models:
            mismatches += _check_model(doc, model, models.get(model.name), openapi)
        for planned in doc.file_plan:
            if not (root / planned.path).is_file():
                mismatches.append(
                    Mismatch(
                        doc.path, planned.line, planned.path, "file in the File Plan is missing"
                    )
                )
    return mismatches


def _check_endpoints(doc: FeatureDoc, openapi: dict[str, Any]) -> Iterator[Mismatch]:
    paths: dict[str, dict[str, Any]] = openapi["paths"]
    for endpoint in doc.endpoints:
        operation = paths.get(endpoint.path, {}).get(endpoint.method.lower())
        if operation is None:
            yield Mismatch(doc.path, endpoint.line, endpoint.key, "no such route in the app")
            continue
        yield from _check_operation(doc, endpoint, operation)
    resources = {_resource_of(endpoint.path) for endpoint in doc.endpoints}
    documented = {endpoint.key for endpoint in doc.endpoints}
    prefixes = {
        _flat_prefix(endpoint.path)
        for endpoint in doc.endpoints
        if route_shape(endpoint.method, endpoint.path)[0] is None
    }
    for path, operations in paths.items():
        flat = route_shape("GET", path)[0] is None and any(
            path == prefix or path.startswith(prefix + "/") for prefix in prefixes
        )
        if not flat and _resource_of(path) not in resources:
            continue
        for method in operations:
            key = f"{method.upper()} {path}"
            if key not in documented:
                yield Mismatch(doc.path, 0, key, "route in the app is not in the doc")


def _check_operation(
    doc: FeatureDoc, endpoint: Endpoint, operation: dict[str, Any]
) -> Iterator[Mismatch]:
    def mismatch(problem: str) -> Mismatch:
        return Mismatch(doc.path, endpoint.line, endpoint.key, problem)

    security = operation.get("security", [])
    app_auth = "None" if not security else "Optional" if {} in security else "Required"
    doc_auth = "Required" if endpoint.auth else "Optional" if endpoint.optional else "None"
    if app_auth != doc_auth:
        app_says = {"None": "is public", "Optional": "takes a token or none"}
        yield mismatch(
            f"doc says Auth {doc_auth}, but the route {app_says.get(app_auth, 'requires auth')}"
        )
    statuses = {int(status) for status in operation["responses"]}
    for status in sorted(set(endpoint.responses) - statuses):
        yield mismatch(f"doc lists Response {status}, the route does not document it")
    platform = {*EVERY_ROUTE_STATUSES, *PLATFORM_STATUSES.get(_operation_of(endpoint) or "", ())}
    if endpoint.method in WRITE_METHODS:
        platform.update(EVERY_WRITE_STATUSES)
        model = model_of(endpoint.path, doc.models)
        if model is not None and model.in_team:
            platform.add(403)  # a member whose role allows no write: implied by `Access:`
    for status in sorted(statuses - set(endpoint.responses) - platform):
        yield mismatch(f"the route documents {status}, the doc does not list it")
    request = _schema_name(operation.get("requestBody", {}).get("content", {}))
    parent, shape = route_shape(endpoint.method, endpoint.path)
    if parent is not None and shape == "create" and endpoint.request is not None:
        nested = nested_create_schema(endpoint.request.removesuffix("Create"), parent)
        request = endpoint.request if request == nested else request  # the body but the path's
    if request != endpoint.request:
        yield mismatch(f"doc says Request {endpoint.request}, the route takes {request}")
    query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    documented = {param.name for param in endpoint.query}
    for name in sorted(documented - query):
        yield mismatch(f"doc lists query parameter {name!r}, the route has none")
    platform_query = set(PLATFORM_QUERY_PARAMS.get(_operation_of(endpoint) or "", ()))
    for name in sorted(query - documented - platform_query):
        yield mismatch(f"the route takes query parameter {name!r}, the doc does not list it")
    if EXPAND_PARAM in query and EXPAND_PARAM in documented:
        yield from map(mismatch, _expand_problems(endpoint, operation))
    if SORT_PARAM in query and SORT_PARAM in documented:
        yield from map(mismatch, _sort_problems(endpoint, operation))
    yield from map(mismatch, _key_problems(doc, endpoint, operation))
    yield from map(mismatch, _action_problems(endpoint, operation))


def _action_problems(endpoint: Endpoint, operation: dict[str, Any]) -> Iterator[str]:
    """An action's `When`, `Sets` and body fields against the route's `x-action` (what the
    service's `Action` runs), both ways."""
    found = operation.get("x-action")
    if endpoint.action is None:
        if found is not None:
            yield "the route is an action (x-action), the doc lists no When, Sets or fields"
        return
    if found is None:
        yield "doc says it is an action, the route runs none (no x-action)"
        return
    for part, words in (("when", "When"), ("sets", "Sets"), ("takes", "Request fields")):
        documented, running = endpoint.action.texts[part], found.get(part, [])
        if sorted(documented) != sorted(running):
            yield (
                f"doc says {words} {', '.join(documented) or '(none)'}, the route"
                f" {', '.join(running) or '(none)'}"
            )


def _key_problems(doc: FeatureDoc, endpoint: Endpoint, operation: dict[str, Any]) -> Iterator[str]:
    """A route keyed by a unique field (`/labels/{name}`) takes its key with the field's rules."""
    key = endpoint.path.rsplit("/", 1)[-1].removeprefix("{").removesuffix("}")
    model = model_of(endpoint.path, doc.models)
    item = model.field(key) if model is not None and key != "id" else None
    if item is None or not endpoint.path.endswith("}"):
        return
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path" and parameter["name"] == key:
            for problem in _schema_problems(item.type, parameter.get("schema", {})):
                yield f"path parameter {key!r}: {problem}"


def _expand_problems(endpoint: Endpoint, operation: dict[str, Any]) -> Iterator[str]:
    """The names the doc's `expand (...)` lists against those the route's `expand` takes (the
    pattern of its OpenAPI parameter), both ways."""
    (parameter,) = (p for p in operation["parameters"] if p["name"] == EXPAND_PARAM)
    taken = expanded_names(parameter.get("schema", {}).get("pattern", ""))
    if taken is None:
        yield "the route's expand parameter names no fields (no pattern of names)"
        return
    for name in endpoint.expand:
        if name not in taken:
            yield f"doc lists expand {name!r}, the route's expand does not take it"
    for name in taken:
        if name not in endpoint.expand:
            yield f"the route's expand takes {name!r}, the doc does not list it"


def _sort_problems(endpoint: Endpoint, operation: dict[str, Any]) -> Iterator[str]:
    """The doc's `sort (keys; default ...)` against the route's `sort` (the pattern of its
    OpenAPI parameter, and its default), both ways."""
    (parameter,) = (p for p in operation["parameters"] if p["name"] == SORT_PARAM)
    schema = parameter.get("schema", {})
    taken = sort_keys(schema.get("pattern", ""))
    sort = endpoint.sort
    assert sort is not None
    if taken is None:
        yield "the route's sort parameter names no keys (no pattern of keys)"
        return
    for name in sort.taken:
        if name not in taken:
            yield f"doc lists sort key {name!r}, the route's sort does not take it"
    for name in taken:
        if name not in sort.taken:
            yield f"the route's sort takes {name!r}, the doc does not list it"
    if schema.get("default") != sort.default:
        yield f"doc says sort default {sort.default!r}, the route's is {schema.get('default')!r}"


def _list_index_problems(doc: FeatureDoc, model: Model, table: Any) -> Iterator[str]:
    """The indexes the doc's lists need (doc.list_indexes) are the model's; its `q` fields are
    the model's `search_fields`, both ways."""
    needed = list_indexes(doc, model)
    indexes = {tuple(c.name for c in index.columns): index for index in table.indexes}
    for name in needed.ordered:
        if ("owner_id", name, "id") not in indexes:
            yield (
                f"a list sorts or range-filters by {name}, but the model has no index on"
                f" (owner_id, {name}, id)"
            )
    for name in needed.searched:
        trigram = {"using": "gin", "ops": {name: "gin_trgm_ops"}}
        if not any(
            [c.name for c in index.columns] == [name]
            and all(index.dialect_options["postgresql"].get(k) == v for k, v in trigram.items())
            for index in table.indexes
        ):
            yield f"a list searches {name}, but the model has no trigram (GIN) index on it"


def _operation_of(endpoint: Endpoint) -> str | None:
    """The CRUD operation an endpoint is, by its shape (`POST /api/v1/things` is create,
    `POST /api/v1/projects/{project_id}/tasks` too), or `action`."""
    if endpoint.action is not None:
        return "action"
    return route_shape(endpoint.method, endpoint.path)[1]


def _check_model(
    doc: FeatureDoc, model: Model, mapped: type[Any] | None, openapi: dict[str, Any]
) -> Iterator[Mismatch]:
    if mapped is None:
        yield Mismatch(doc.path, model.line, model.name, "no such model in src/models")
        return
    table = mapped.__table__
    if table.name != model.table:
        yield Mismatch(
            doc.path, model.line, model.name, f"table is {table.name}, not {model.table}"
        )
    public = reads_every_owner(doc, model)
    if getattr(mapped, "readable_by_anyone", False) != public:
        doc_says = "public, so anyone may refer to its rows" if public else "not public"
        yield Mismatch(
            doc.path,
            model.line,
            model.name,
            f"readable_by_anyone is {not public}, doc says its GETs are {doc_says}",
        )
    schemas = openapi["components"]["schemas"]
    create_schema = schemas.get(f"{model.name}Create", {})
    given_by_path: set[str] = set()
    if not create_schema:  # only nested creates: their body is all but the path's field
        for item in model.fields:
            nested = schemas.get(nested_create_schema(model.name, item.name))
            if item.type.kind == "ref" and nested is not None:
                create_schema, given_by_path = nested, given_by_path | {item.name}
    create = create_schema.get("properties", {})
    required_inputs = set(create_schema.get("required", []))
    unique = _unique_indexes(table)
    links = {
        relationship.key: relationship.secondary
        for relationship in inspect(mapped).relationships
        if relationship.secondary is not None
    }
    update_schema = schemas.get(f"{model.name}Update")  # only where a route takes it
    for problem in _list_index_problems(doc, model, table):
        yield Mismatch(doc.path, model.line, model.name, problem)
    for problem in _access_problems(model, mapped, openapi):
        yield Mismatch(doc.path, model.line, model.name, problem)
    searched = tuple(
        dict.fromkeys(
            f for e in doc.endpoints for f in e.search if model_of(e.path, doc.models) is model
        )
    )
    found = tuple(getattr(mapped, "search_fields", ()))
    if set(searched) != set(found):
        yield Mismatch(
            doc.path,
            model.line,
            model.name,
            f"q searches {', '.join(searched) or 'nothing'} in the doc,"
            f" {', '.join(found) or 'nothing'} in the model's search_fields",
        )
    for item in model.fields:
        subject = f"{model.name}.{item.name}"
        if item.type.kind == "refs" and item.derived:  # who joined: answered, never taken
            problems = _link_problems(model, item, links.get(item.name), None)
            for problem in [*problems, *_derived_problems(item, model, schemas)]:
                yield Mismatch(doc.path, item.line, subject, problem)
            continue
        if item.type.kind == "refs":
            problems = _link_problems(model, item, links.get(item.name), create.get(item.name))
            for problem in problems:
                yield Mismatch(doc.path, item.line, subject, problem)
            if item.name in create and (item.required == "yes") != (item.name in required_inputs):
                app_says = "required" if item.name in required_inputs else "optional"
                problem = (
                    f"{model.name}Create makes it {app_says}, doc says Required {item.required}"
                )
                yield Mismatch(doc.path, item.line, subject, problem)
            if update_schema is not None:
                for problem in _update_problems(item, model, update_schema):
                    yield Mismatch(doc.path, item.line, subject, problem)
            continue
        if item.counted is not None:
            for problem in _derived_problems(item, model, schemas):
                yield Mismatch(doc.path, item.line, subject, problem)
            counting = getattr(mapped, "counts", {}).get(item.name)
            expected = counts_of(doc, model)[item.name]
            if counting != expected:
                app_says = "nothing" if counting is None else "{}.{}".format(*counting)
                problem = f"the model counts {app_says}, doc says {'{}.{}'.format(*expected)}"
                yield Mismatch(doc.path, item.line, subject, problem)
            continue
        if item.viewed is not None:
            for problem in _derived_problems(item, model, schemas):
                yield Mismatch(doc.path, item.line, subject, problem)
            viewing = getattr(mapped, "viewer_flags", {}).get(item.name)
            if viewing != item.viewed:
                app_says = "no viewer flag" if viewing is None else f"current user in {viewing}"
                problem = f"the model says {app_says}, doc says {item.default}"
                yield Mismatch(doc.path, item.line, subject, problem)
            continue
        column = table.columns.get(item.name)
        if column is None:
            yield Mismatch(doc.path, item.line, subject, "no such column")
            continue
        for problem in _column_problems(item, column):
            yield Mismatch(doc.path, item.line, subject, problem)
        for problem in _unique_problems(unique_index(doc, model, item), unique, item.name):
            yield Mismatch(doc.path, item.line, subject, problem)
        if item.name in given_by_path:
            continue
        if item.name in AUTO_FIELDS:
            if item.name in create:
                yield Mismatch(doc.path, item.line, subject, "system field is accepted as input")
            continue
        if item.derived:
            for problem in _derived_problems(item, model, schemas):
                yield Mismatch(doc.path, item.line, subject, problem)
            for problem in _made_key_problems(item, mapped):
                yield Mismatch(doc.path, item.line, subject, problem)
            continue
        if update_schema is not None:
            for problem in _update_problems(item, model, update_schema):
                yield Mismatch(doc.path, item.line, subject, problem)
        if item.name not in create:
            yield Mismatch(doc.path, item.line, subject, f"not a field of {model.name}Create")
            continue
        for problem in _schema_problems(item.type, create[item.name], schemas, doc):
            yield Mismatch(doc.path, item.line, subject, problem)
        if (item.required == "yes") != (item.name in required_inputs):
            app_says = "required" if item.name in required_inputs else "optional"
            problem = f"{model.name}Create makes it {app_says}, doc says Required {item.required}"
            yield Mismatch(doc.path, item.line, subject, problem)
    documented = {item.name for item in model.fields}
    for name in set(getattr(mapped, "counts", {})) - documented:
        yield Mismatch(doc.path, model.line, f"{model.name}.{name}", "count is not in the doc")
    made = {item.name for item in model.fields if item.slugged or item.numbered}
    for kind in ("slugs", "numbers"):
        for name in set(getattr(mapped, kind, {})) - made:
            problem = f"the model makes it ({kind}), the doc does not (Required auto)"
            yield Mismatch(doc.path, model.line, f"{model.name}.{name}", problem)
    for name in set(getattr(mapped, "viewer_flags", {})) - documented:
        problem = "viewer flag (current user in ...) is not in the doc"
        yield Mismatch(doc.path, model.line, f"{model.name}.{name}", problem)
    for name in table.columns.keys():  # noqa: SIM118 (a ColumnCollection)
        if name not in documented and name not in SYSTEM_COLUMNS:
            yield Mismatch(doc.path, model.line, f"{model.name}.{name}", "column is not in the doc")
    refs = {item.name for item in model.fields if item.type.kind == "refs"}
    for name, secondary in links.items():
        if name not in refs:
            problem = f"refs field (link table {secondary.name}) is not in the doc"
            yield Mismatch(doc.path, model.line, f"{model.name}.{name}", problem)


def _link_problems(
    model: Model, item: ModelField, secondary: Any, schema: dict[str, Any] | None
) -> Iterator[str]:
    """What differs between a `refs` field and the app: its link table (the relationship
    of that name, its two foreign keys) and its input (an array of ids within the bound)."""
    link = link_of(model, item)
    if secondary is None:
        yield f"no refs field (a relationship over link table {link.table})"
    else:
        expected = {link.source: link.source_table, link.target: link.target_table}
        found = {key.parent.name: key.column.table.name for key in secondary.foreign_keys}
        if (secondary.name, found) != (link.table, expected):
            pairs = ", ".join(f"{c} -> {t}" for c, t in sorted(found.items()))
            yield (
                f"link table is {secondary.name} ({pairs}), doc says {link.table}"
                f" ({link.source} -> {link.source_table}, {link.target} -> {link.target_table})"
            )
    if item.derived:  # who joined: no input to compare
        return
    if schema is None:
        yield f"not a field of {model.name}Create"
        return
    if schema.get("type") != "array" or schema.get("items", {}).get("format") != "uuid":
        yield "input is not an array of ids"
        return
    high = REFS_MAX_ITEMS if item.type.high is None else item.type.high
    for key, bound in (("minItems", item.type.low), ("maxItems", high)):
        actual = schema.get(key)
        if key == "minItems" and bound is None and actual == 0:
            bound = actual
        if (None if actual is None else float(actual)) != bound:
            yield f"input rule {key} is {_number(actual)}, doc says {_number(bound)}"


def _access_problems(model: Model, mapped: Any, openapi: dict[str, Any]) -> Iterator[str]:
    """`Access:` as the model and the routes have it: a shared model's members table and
    member routes, the `ref` a model is through, the fields set to the row's creator."""
    shared = getattr(mapped, "members", None) is not None
    if shared != model.shared:
        app_says = "has a members table" if shared else "has no members table"
        yield f"the model {app_says}, doc says Access: {model.access or 'the owner only'}"
    through = getattr(mapped, "through", None)
    if through != model.through:
        yield f"the model is through {through}, doc says through {model.through}"
    authored = set(getattr(mapped, "authored", ()))
    documented = {item.name for item in model.fields if item.authored}
    for name in sorted(authored ^ documented):
        app_says = "sets" if name in authored else "does not set"
        says = "current user" if name in documented else "no Default current user"
        yield f"{name}: the model {app_says} it to the creator, doc says {says}"
    members = f"/api/v1/{model.table}/{{{module_name(model.name)}_id}}/members"
    routes = [("get", members), ("post", members)]
    routes += [("put", f"{members}/{{user_id}}"), ("delete", f"{members}/{{user_id}}")]
    paths = openapi["paths"]
    for method, path in routes:
        served = method in paths.get(path, {})
        if served != model.shared:
            app_says = "serves" if served else "does not serve"
            yield f"the app {app_says} {method.upper()} {path}; doc says Access: {model.access}"


def _made_key_problems(item: ModelField, mapped: Any) -> Iterator[str]:
    """A slug or a number the doc says the server makes is one the model makes, and from
    the same field (`slugs`, `numbers`), both ways."""
    for kind, source, words in (
        ("slugs", item.slugged, "slug({})"),
        ("numbers", item.numbered, "next({})"),
    ):
        made = getattr(mapped, kind, {}).get(item.name)
        if made != source:
            app_says = "nothing" if made is None else words.format(made)
            doc_says = "nothing" if source is None else item.default
            yield f"the model makes {app_says}, doc says {doc_says}"


def _derived_problems(item: ModelField, model: Model, schemas: dict[str, Any]) -> Iterator[str]:
    """A derived field (set by actions only) is answered, never taken as input."""
    for schema in (f"{model.name}Create", f"{model.name}Update"):
        if item.name in schemas.get(schema, {}).get("properties", {}):
            yield f"{schema} accepts it, doc says it is derived (Required auto)"
    if item.name not in schemas.get(f"{model.name}Response", {}).get("properties", {}):
        yield f"not a field of {model.name}Response"


def _update_problems(item: ModelField, model: Model, update: dict[str, Any]) -> Iterator[str]:
    """A field set at create only (`fixed`) is not in the update schema; any other is."""
    accepted = item.name in update.get("properties", {})
    if item.fixed and accepted:
        yield f"{model.name}Update accepts it, doc says Required {item.required}, fixed"
    if not item.fixed and not accepted:
        yield f"not a field of {model.name}Update, doc does not say fixed (set at create only)"


def _column_problems(item: ModelField, column: Column[Any]) -> Iterator[str]:
    expected = _COLUMN_TYPES[item.type.kind]
    column_type = getattr(column.type, "impl", column.type)  # through TypeDecorators
    if item.type.kind in _DECORATED:
        column_type = column.type
    if isinstance(column_type, ValueList) and item.type.kind == "list":
        element = list_item(item)
        if element.type.kind == "enum":  # kept as its text, checked as it is sent
            longest = max(20, *(len(choice) for choice in element.type.choices))
            element = replace(element, type=FieldType("str", high=longest))
        items = Column(element.name, column_type.item, nullable=False)
        for problem in _column_problems(element, items):
            yield f"items: {problem}"
    excluded = _NOT_THIS_KIND.get(item.type.kind)
    if not isinstance(column_type, expected) or (excluded and isinstance(column_type, excluded)):
        yield f"type is {column.type!r}, doc says {item.type.kind}"
    elif item.type.kind == "str" and item.type.high is not None:
        length = getattr(column_type, "length", None)
        if length != int(item.type.high):
            yield f"column length is {length}, doc says at most {int(item.type.high)}"
    elif item.type.kind == "enum":
        values = tuple(getattr(column_type, "enums", ()))
        if values != item.type.choices:
            yield f"enum values are {values}, doc says {item.type.choices}"
    if item.type.ref:
        targets = {fk.column.table.name for fk in column.foreign_keys}
        if targets != {table_name(item.type.ref)}:
            found = ", ".join(sorted(targets)) or "no foreign key"
            yield f"references {found}, doc says ref({item.type.ref})"
    if column.nullable != item.nullable:
        yield f"nullable is {column.nullable}, doc says {item.nullable}"
    if item.required == "no" and item.default not in (None, "null"):
        default = getattr(column.default, "arg", None)
        if _literal(default) != item.default:
            yield f"default is {_literal(default)!r}, doc says {item.default!r}"


def _unique_indexes(table: Any) -> set[tuple[str, ...]]:
    """The columns of each unique index and unique constraint of a table."""
    indexes = {tuple(c.name for c in index.columns) for index in table.indexes if index.unique}
    return indexes | {
        tuple(c.name for c in constraint.columns)
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint)
    }


def _unique_problems(
    expected: tuple[str, ...] | None, unique: set[tuple[str, ...]], name: str
) -> Iterator[str]:
    """The doc's unique index of a field (its columns, the field last) against the table's
    unique indexes that end with the field, both ways."""
    found = sorted(columns for columns in unique if columns[-1] == name)
    if expected is not None and not found:
        yield f"doc says unique, on {_listed(expected)}; the table has no such unique index"
    for columns in found:
        if columns != expected:
            doc_says = "not unique" if expected is None else f"unique on {_listed(expected)}"
            yield f"the table has a unique index on {_listed(columns)}, doc says {doc_says}"


def _listed(columns: tuple[str, ...]) -> str:
    return f"({', '.join(columns)})"


def _schema_problems(
    field_type: FieldType,
    schema: dict[str, Any],
    schemas: dict[str, Any] | None = None,
    doc: FeatureDoc | None = None,
) -> Iterator[str]:
    schema = _resolved(schema, schemas or {})
    if field_type.kind in ("list", "object", "json"):
        yield from _value_problems(field_type, schema, schemas or {}, doc)
        return
    if field_type.kind == "str":
        pattern = schema.get("pattern", NO_NUL_PATTERN)
        if pattern != (field_type.pattern or NO_NUL_PATTERN):
            app_says = "none" if pattern == NO_NUL_PATTERN else pattern
            yield f"input pattern is {app_says}, doc says {field_type.pattern or 'none'}"
    bounds = {
        "str": ("minLength", "maxLength"),
        "int": ("minimum", "maximum"),
        "float": ("minimum", "maximum"),
    }.get(field_type.kind)
    if bounds is None:
        return
    for key, expected in zip(bounds, (field_type.low, field_type.high), strict=True):
        actual = _bound(schema, key)
        if key == "minLength" and expected is None:
            expected = actual if actual in (None, 0) else None
        if field_type.kind == "int" and expected is None and actual in (*INT32, *INT64):
            expected = actual  # an open side of an int is its column's limit
        if key == "maxLength" and expected is None and actual == TEXT_MAX_LENGTH:
            expected = actual  # a str without a maximum still has one as input
        if actual != expected:
            yield f"input rule {key} is {_number(actual)}, doc says {_number(expected)}"


def _value_problems(
    field_type: FieldType, schema: dict[str, Any], schemas: dict[str, Any], doc: FeatureDoc | None
) -> Iterator[str]:
    """A `list`'s input is an array of its items within its count; an `object`'s one with
    its fields as properties (and no others); a `json` field's any object."""
    kind = field_type.kind
    wanted = "array" if kind == "list" else "object"
    if schema.get("type") != wanted:
        yield f"input is {schema.get('type', 'no JSON type')}, doc says {kind} (an {wanted})"
        return
    if kind == "list":
        high = LIST_MAX_ITEMS if field_type.high is None else field_type.high
        for key, bound in (("minItems", field_type.low), ("maxItems", high)):
            actual = schema.get(key)
            if (None if actual is None else float(actual)) != bound:
                yield f"input rule {key} is {_number(actual)}, doc says {_number(bound)}"
        assert field_type.item is not None
        items = _resolved(schema.get("items", {}), schemas)
        for problem in _item_kind_problems(field_type.item, items):
            yield f"items: {problem}"
        for problem in _schema_problems(field_type.item, items, schemas):
            yield f"items: {problem}"
    if kind == "json" and schema.get("additionalProperties") is False:
        listed = sorted(schema.get("properties", {}))
        yield f"input is an object of properties {listed}, doc says json"
    shape = doc.object_named(field_type.object) if doc is not None and kind == "object" else None
    if shape is not None:
        found = set(schema.get("properties", {}))
        named = {item.name for item in shape.fields}
        for name in sorted(named - found):
            yield f"input has no property {name!r}, doc's object {shape.name} has it"
        for name in sorted(found - named):
            yield f"input has property {name!r}, doc's object {shape.name} does not"
        if schema.get("additionalProperties") is not False:
            yield "input takes properties the doc does not list (additionalProperties)"


_ITEM_FORMS = {
    "str": ("string", None),
    "int": ("integer", None),
    "date": ("string", "date"),
}


def _item_kind_problems(field_type: FieldType, schema: dict[str, Any]) -> Iterator[str]:
    """A list's items are of the kind the doc says: an enum's values, or a JSON type."""
    if field_type.kind == "enum":
        if tuple(schema.get("enum", ())) != field_type.choices:
            yield f"values are {tuple(schema.get('enum', ()))}, doc says {field_type.choices}"
        return
    found = (schema.get("type"), schema.get("format"))
    if found != _ITEM_FORMS[field_type.kind]:
        yield f"type is {found[0]} ({found[1] or 'no format'}), doc says {field_type.kind}"


def _resolved(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """`schema` with a `$ref` followed (an object's schema), and a nullable field's
    non-null branch."""
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        schema = {**schema, **options[0]}
    ref = schema.get("$ref")
    if ref:
        return dict(schemas.get(str(ref).rsplit("/", 1)[-1], {}))
    return schema


def _bound(schema: dict[str, Any], key: str) -> float | None:
    for option in [schema, *schema.get("anyOf", [])]:
        if key in option:
            return float(option[key])
    return None


def _number(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def _literal(value: Any) -> str | None:
    if value is None:
        return None
    if callable(value):  # utcnow(), uuid4(): a new value per row
        return f"{getattr(value, '__name__', value)}()"
    if isinstance(value, bool):
        return str(value).lower()
    return str(getattr(value, "value", value))


def _schema_name(content: dict[str, Any]) -> str | None:
    for media in content.values():
        ref = media.get("schema", {}).get("$ref")
        if ref:
            return str(ref).rsplit("/", 1)[-1]
    return None


def _flat_prefix(path: str) -> str:
    """`/api/v1/tasks/{id}` -> `/api/v1/tasks`."""
    return path.split("/{", 1)[0].rstrip("/")


def _resource_of(path: str) -> str:
    """The resource whose rows a route serves: `/api/v1/tasks/{id}` -> `tasks`, and so do
    the nested `/api/v1/projects/{project_id}/tasks[/{id}]` (not `projects`)."""
    head, _, last = path.rstrip("/").rpartition("/")
    collection = head if last.startswith("{") else path.rstrip("/")
    return collection.removeprefix("/api/v1/").rpartition("/")[2]
