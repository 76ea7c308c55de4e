"""Render a design doc's File Plan as code, in the project's conventions.

Rendering is pure: it computes the names, types and imports each file needs and fills the
templates (src/engine/render.py) with them, returning the text of every file the doc plans
and of the two registries a new model needs. Writing is `write_all()`: all files or none,
never over a hand edit unless forced.
"""

import ast
import contextlib
import difflib
import importlib.util
import os
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from src.core.actions import CALLER, NOW, CallerChange
from src.core.errors import in_words
from src.core.pagination import split_filter
from src.engine.doc import (
    INT64,
    LIST_MAX_ITEMS,
    OWNER_SCOPE,
    REFS_MAX_ITEMS,
    Endpoint,
    FeatureDoc,
    FieldType,
    ListSort,
    Model,
    ModelField,
    acted_on,
    expandable,
    link_of,
    list_indexes,
    members_of,
    number_text,
    search_fields,
    table_name,
    unique_index,
)
from src.engine.patterns import pattern_sample
from src.engine.render import Renderer, import_block, pascal, python_literal, wrap
from src.schemas.base import FILTER_TEXT_MAX_LENGTH, INT32, TEXT_MAX_LENGTH

SMALLINT = (-(2**15), 2**15 - 1)
CRUD_SHAPES = {
    ("POST", ""): "create",
    ("GET", "/{id}"): "get",
    ("GET", ""): "list",
    ("PUT", "/{id}"): "update",
    ("PATCH", "/{id}"): "patch",
    ("DELETE", "/{id}"): "delete",
}
NESTED_PATH = re.compile(
    r"/api/v1/(?P<parents>[a-z][a-z0-9_]*)/\{(?P<field>(?!id\})[^{}/]*)\}/(?P<children>[a-z][a-z0-9_]*)"
    r"(?P<rest>/.*)?"
)
"""`/api/v1/projects/{project_id}/tasks[/{id}]`: a model's rows under one row of another (a
path below `{id}`, such as `/api/v1/projects/{id}/archive`, is no nesting)."""
KEYED_ITEM = re.compile(r"/\{(?P<key>[a-z][a-z0-9_]*)\}")
"""The item part of a path: `/{id}`, or `/{name}` for a route keyed by a unique field."""
ROUTE_PARAMETERS = ("request", "data", "service", "key", "response", "if_match", "expand")
"""Parameters of the generated route functions: a path key may not take one of these names."""
PAGE_PARAMS = ("page", "limit")
PLATFORM_STATUSES = {
    "create": (409, 413, 422),  # Idempotency-Key in flight or reused; body too large
    "update": (412, 413, 428),  # If-Match stale or required; body too large
    "patch": (412, 413, 428),  # the same partial update as PUT
    "delete": (412, 428),
    "action": (400, 412, 413, 428),  # a body it does not take; If-Match; body too large
}
"""Statuses the generated routes answer whatever the doc says: a doc may list them."""
PLATFORM_QUERY_PARAMS = {"list": ("cursor",)}
"""Query parameters every generated list takes (keyset paging): a doc may list them."""


class GenerationError(Exception):
    """What in the doc cannot be generated; each line `path:line: problem; expected`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Names:
    model: str
    module: str
    resource: str

    @classmethod
    def of(cls, model: Model) -> "Names":
        module = re.sub(r"(?<!^)(?=[A-Z])", "_", model.name).lower()
        return cls(model.name, module, table_name(model.name))

    def planned(self) -> dict[str, str]:
        return {
            "model": f"src/models/{self.module}.py",
            "schemas": f"src/schemas/{self.module}.py",
            "repository": f"src/repositories/{self.module}_repo.py",
            "service": f"src/services/{self.module}_service.py",
            "routes": f"src/api/v1/routes/{self.resource}.py",
            "router": "src/api/v1/router.py",
        }


def render_feature(doc: FeatureDoc, root: Path) -> dict[str, str]:
    """Every file `add` writes for `doc`, path (relative to root) -> full text, rendered from
    the templates (the project's own, where it has them) and already formatted."""
    all_names = [Names.of(model) for model in doc.models]
    operations, nested = _crud_endpoints(doc, all_names)
    actions = _action_routes(doc, operations, nested)
    _check_plan(doc, all_names, with_routes={*operations, *nested, *actions})
    renderer = Renderer(root)
    router = (root / "src/api/v1/router.py").read_text(encoding="utf-8")
    registry = (root / "src/models/__init__.py").read_text(encoding="utf-8")
    files: dict[str, str] = {}
    for model, names in zip(doc.models, all_names, strict=True):
        planned = names.planned()
        context = {
            "header": f"{doc.id} {doc.title}",
            "doc_path": _doc_path(doc),
            "names": names,
            "model": model,
            "resource_words": in_words(model.name),
        }
        nestings = nested.get(model.name, {})
        every = [*operations.get(model.name, {}).values()]
        for nesting in nestings.values():
            every += nesting.operations.values()
        public = any(operation.public for operation in every)
        expanded = _expanded(model, operations.get(model.name, {}))
        schemas = _schemas(model, nestings, doc.objects) | expanded
        acts = actions.get(model.name, [])
        schemas["action_requests"] = _action_requests(model, acts)
        schemas["shared"] = model.shared
        layers = {"model": _model(doc, model, public), "schemas": schemas}
        layers |= {
            "repository": {"shared": model.in_team},
            "service": {"actions": _service_actions(model, acts)},
        }
        routed = model.name in operations or bool(nestings) or bool(acts)
        if routed:
            layers["routes"] = _routes(model, operations.get(model.name, {}), nestings)
            layers["routes"]["actions"] = _action_data(model, acts, public)
        for layer, data in layers.items():
            template = f"{layer}.py.jinja"
            files[planned[layer]] = renderer.render_python(
                template, planned[layer], **context, **data
            )
        registry = _register_model(registry, model, names)
        if routed:
            test_module = f"tests/features/test_{names.resource}.py"
            files[test_module] = renderer.render_python(
                "test_feature.py.jinja",
                test_module,
                **context,
                **_tests(model, operations.get(model.name, {}), nestings, doc.objects),
                unique=_unique_scopes(doc, model),
                actions=any(not act.action.joins_or_leaves for act in acts if act.action),
                joins=any(act.action.joins_or_leaves for act in acts if act.action),
                counts=_counted_words(model),
                joined_counts=_counted_words(model, joined=True),
                **made_by_the_server(model),
                derived=any(item.derived for item in model.fields),
                team=model.in_team,
            )
            router = _register_routes(router, names)
        else:  # a changed doc may drop every endpoint of a model
            router = _unregister_routes(router, names)
    files["src/api/v1/router.py"] = router
    files["src/models/__init__.py"] = registry
    return files


def _check_plan(doc: FeatureDoc, all_names: list[Names], with_routes: set[str]) -> None:
    expected: dict[str, str] = {}
    for names in all_names:
        for layer, path in names.planned().items():
            if layer != "routes" or names.model in with_routes:
                expected[path] = "MODIFY" if layer == "router" else "CREATE"
    planned = {item.path: item for item in doc.file_plan}
    listing = ", ".join(expected)
    problems = [
        f"{doc.path}:1: File Plan lacks {path}; expected every file of the layout: {listing}"
        for path in expected
        if path not in planned
    ]
    for item in doc.file_plan:
        if item.path not in expected:
            problems.append(
                f"{doc.path}:{item.line}: File Plan path {item.path} is not generated from this"
                f" doc; expected one of {listing}"
            )
        elif item.action != expected[item.path]:
            problems.append(
                f"{doc.path}:{item.line}: {item.path} has action {item.action};"
                f" expected {expected[item.path]}"
            )
    if problems:
        raise GenerationError(problems)


PUBLIC_READS = ("get", "list")


@dataclass(frozen=True)
class Operation:
    errors: list[int]
    """Documented error statuses other than 401."""
    public: bool
    statuses: tuple[int, ...]
    """Every documented status."""
    query: tuple[str, ...]
    expand: tuple[str, ...] = ()
    """The references `expand` may embed (`project` for `project_id`)."""
    key: str = "id"
    """The field an item route's path names the row by: `id`, or a unique field (`name`)."""
    sort: ListSort | None = None
    """A list's `sort`: the keys it takes and its default."""
    search: tuple[str, ...] = ()
    """The text fields a list's `q` searches."""
    optional: bool = False
    """`Auth | Optional`: public, and a token sent must be valid."""


@dataclass(frozen=True)
class Nesting:
    """Routes of a model under one row of a parent model: `/api/v1/<parents>/{field}/<rows>`."""

    field: str
    """The child's `ref` field the path gives (`project_id`)."""
    parent: str
    """The parent model (`Project`)."""
    operations: dict[str, Operation]

    @property
    def stem(self) -> str:
        """What names the nesting in code: `project_id` -> `project` (`TaskCreateInProject`)."""
        return self.field.removesuffix("_id")

    @property
    def parent_names(self) -> "Names":
        return Names(self.parent, _module_of(self.parent), table_name(self.parent))


def _module_of(model: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", model).lower()


def nested_create_schema(model: str, field: str) -> str:
    """The body of a nested POST: `ModelCreate` without the path's field (`TaskCreateInProject`
    for `project_id`); `check` takes the doc's `TaskCreate` for it."""
    return f"{model}CreateIn{pascal(field.removesuffix('_id'))}"


def route_shape(method: str, path: str) -> tuple[str | None, str | None]:
    """(the parent field of a nested path or None, the CRUD operation or None) of a route."""
    nested = NESTED_PATH.fullmatch(path)
    if nested is not None:
        return nested["field"], crud_shape(method, nested["rest"] or "")[0]
    rest = path.removeprefix("/api/v1/").partition("/")[2]
    return None, crud_shape(method, f"/{rest}" if rest else "")[0]


def crud_shape(method: str, rest: str) -> tuple[str | None, str]:
    """(the CRUD operation or None, the field that names the row) of a path's part after the
    collection: `""`, `/{id}`, or `/{name}` for a route keyed by a unique field."""
    item = KEYED_ITEM.fullmatch(rest)
    if item is None:
        return CRUD_SHAPES.get((method, rest)), "id"
    return CRUD_SHAPES.get((method, "/{id}")), item["key"]


def _crud_endpoints(
    doc: FeatureDoc, all_names: list[Names]
) -> tuple[dict[str, dict[str, Operation]], dict[str, dict[str, Nesting]]]:
    """Model -> each CRUD operation the doc lists for its resource; and model -> parent field
    -> the operations listed under one row of that parent (nested routes)."""
    operations: dict[str, dict[str, Operation]] = {}
    nested: dict[str, dict[str, Nesting]] = {}
    first_lines: dict[str, int] = {}
    problems = []
    models = {names.model: model for model, names in zip(doc.models, all_names, strict=True)}
    for endpoint in doc.endpoints:
        if endpoint.action is not None:  # `_action_routes`
            continue
        where = f"{doc.path}:{endpoint.line}: endpoint {endpoint.key}"
        found = None
        under = NESTED_PATH.fullmatch(endpoint.path)
        for names in all_names:
            prefix = f"/api/v1/{names.resource}"
            if under is not None and under["children"] == names.resource:
                found = (names, *crud_shape(endpoint.method, under["rest"] or ""))
            elif under is None and (
                endpoint.path == prefix or endpoint.path.startswith(prefix + "/")
            ):
                rest = endpoint.path.removeprefix(prefix)
                found = (names, *crud_shape(endpoint.method, rest))
        if found is None or found[1] is None:
            shapes = [f"{m} /api/v1/{n.resource}{p}" for n in all_names for m, p in CRUD_SHAPES]
            nests = [f"/api/v1/<parents>/{{<ref field>}}/{n.resource}[/{{id}}]" for n in all_names]
            problems.append(
                f"{where} is not a CRUD operation of this doc's models; expected one of"
                f" {', '.join(shapes)}, or one nested under a parent: {', '.join(nests)}"
            )
            continue
        names, operation, key = found
        assert operation is not None
        if not endpoint.auth and operation not in PUBLIC_READS:
            problems.append(
                f"{doc.path}:{endpoint.line}: {endpoint.key} is public; expected Auth Required"
                " (rows belong to their owner: only GET endpoints may be public)"
            )
        errors = sorted(s for s in endpoint.responses if s >= 400 and s != 401)
        first_lines.setdefault(names.model, endpoint.line)
        described = Operation(
            errors,
            public=not endpoint.auth,
            optional=endpoint.optional,
            statuses=tuple(sorted(endpoint.responses)),
            query=tuple(param.name for param in endpoint.query),
            expand=endpoint.expand,
            key=key,
            sort=endpoint.sort,
            search=endpoint.search,
        )
        model = models[names.model]
        problem = _key_problem(doc, model, key, under["field"] if under else None)
        if under is None and problem is None:
            problem = _same_shape(doc, endpoint, operations.get(names.model, {}), operation)
        if problem is not None:
            problems.append(f"{where}: {problem}")
            continue
        if under is None:
            operations.setdefault(names.model, {})[operation] = described
            continue
        problem = _nesting_problem(model, under["field"], under["parents"], described)
        if problem is None and under["field"] in nested.get(names.model, {}):
            listed = nested[names.model][under["field"]].operations
            problem = _same_shape(doc, endpoint, listed, operation)
        if problem is not None:
            problems.append(f"{where}: {problem}")
            continue
        parent = model.field(under["field"])
        assert parent is not None
        assert parent.type.ref is not None
        nesting = nested.setdefault(names.model, {}).setdefault(
            under["field"], Nesting(under["field"], parent.type.ref, {})
        )
        nesting.operations[operation] = described
    problems += _rows_nothing_creates(doc, operations, nested, first_lines)
    if problems:
        raise GenerationError(problems)
    return operations, nested


def _action_routes(
    doc: FeatureDoc,
    operations: dict[str, dict[str, Operation]],
    nested: dict[str, dict[str, Nesting]],
) -> dict[str, list[Endpoint]]:
    """Model -> its action endpoints (`POST /api/v1/tasks/{id}/close`), in the doc's order:
    on a row a route creates, keyed by `{id}` or a unique field, with auth."""
    found: dict[str, list[Endpoint]] = {}
    problems = []
    for endpoint in doc.endpoints:
        action = endpoint.action
        model = acted_on(endpoint, doc.models)
        if action is None or model is None:
            continue
        where = f"{doc.path}:{endpoint.line}: endpoint {endpoint.key}"
        creates = [operations.get(model.name, {})]
        creates += [nesting.operations for nesting in nested.get(model.name, {}).values()]
        problem = _key_problem(doc, model, action.key, None)
        if problem is None and not endpoint.auth:
            problem = "an action changes a row; expected Auth Required"
        if problem is None and not any("create" in routes for routes in creates):
            problem = (
                f"acts on {model.name}, but no route of this doc creates one; expected"
                f" POST /api/v1/{model.table} too"
            )
        if problem is not None:
            problems.append(f"{where}: {problem}")
            continue
        found.setdefault(model.name, []).append(endpoint)
    if problems:
        raise GenerationError(problems)
    return found


def _action_data(model: Model, endpoints: list[Endpoint], public: bool) -> list[dict[str, Any]]:
    """Each action route as the routes template writes it: its verb, key, body schema and
    documented statuses."""
    shown = []
    for endpoint in endpoints:
        action = endpoint.action
        assert action is not None
        statuses = {s for s in endpoint.responses if s >= 400 and s != 401}
        statuses |= set(PLATFORM_STATUSES["action"])
        if public:
            statuses.add(401)  # the router does not document 401 for every route then
        if model.in_team and not action.joins_or_leaves:
            statuses.add(403)  # a member whose role allows no write (a join needs reading)
        key = _key_data(model, action.key)
        shown.append(
            {
                "verb": action.verb,
                "method": endpoint.method,
                "name": action.running.key,  # its key among the service's `actions`
                "key": key | {"path": key["path"].replace(":path", "")},
                "request": endpoint.request,
                "responses": sorted(statuses),
            }
        )
    return shown


def _service_actions(model: Model, endpoints: list[Endpoint]) -> list[dict[str, Any]]:
    """Each action as the service declares it: `Action(...)` code and its imports."""
    declared = []
    for endpoint in endpoints:
        action = endpoint.action
        assert action is not None
        imports = ["from src.core.actions import Action"]
        parts = [python_literal(action.verb)]
        if action.sets:
            values = [
                f"{python_literal(name)}: {_action_value(model, name, value, imports)}"
                for name, value in action.sets
            ]
            parts.append(f"sets={{{', '.join(values)}}}")
        if action.when:
            imports.append("from src.core.actions import Rule")
            rules = []
            for rule in action.when:
                args = [python_literal(rule.field), python_literal(rule.operator)]
                if not rule.operator.startswith("is"):
                    args.append(_action_value(model, rule.field, rule.value, imports))
                rules.append(f"Rule({', '.join(args)})")
            parts.append(f"when=({', '.join(rules)}{',' if len(rules) == 1 else ''})")
        if action.takes:
            parts.append(f"takes={python_literal(action.takes)}")
        if action.method != "POST":
            parts.append(f"method={python_literal(action.method)}")
        declared.append({"code": f"Action({', '.join(parts)})", "imports": imports})
    return declared


def _action_value(model: Model, name: str, value: Any, imports: list[str]) -> str:
    """A `Sets` or `When` value as Python: an enum's member, `NOW`, a date, a literal."""
    item = model.field(name)
    assert item is not None
    if isinstance(value, CallerChange):
        imports.append(f"from src.core.actions import {value!r}")
        return repr(value)
    if value is NOW or value is CALLER:
        imports.append(f"from src.core.actions import {value!r}")
        return repr(value)
    if value is None:
        return "None"
    if item.type.kind == "enum":
        imports.append(f"from src.models.{_module_of(model.name)} import {enum_name(model, item)}")
        return f"{enum_name(model, item)}.{str(value).upper()}"
    if item.type.kind == "date":
        imports.append("from datetime import date")
        return f"date({value.year}, {value.month}, {value.day})"
    if item.type.kind == "decimal":
        imports.append("from decimal import Decimal")
        return f"Decimal({python_literal(str(value))})"
    return python_literal(value)


def _action_requests(model: Model, endpoints: list[Endpoint]) -> list[dict[str, Any]]:
    """The body schema of each action that takes fields (`TaskMoveRequest`): each field
    required, with its update's rules (null where the field may be null)."""
    requests = []
    for endpoint in endpoints:
        action = endpoint.action
        if action is None or not action.takes:
            continue
        aliases: list[dict[str, str]] = []
        fields = []
        for name in action.takes:
            item = model.field(name)
            assert item is not None
            data = _field_data(item, model, aliases)
            nullable = " | None" if item.nullable else ""  # required, and may be null
            fields.append(data | {"required": True, "input_type": data["input_type"] + nullable})
        requests.append({"name": endpoint.request, "verb": action.verb, "fields": fields})
    return requests


def _key_problem(doc: FeatureDoc, model: Model, key: str, parent: str | None) -> str | None:
    """Why a route cannot name the model's rows by the path's `{key}`, or None: `id`, or a
    field unique among the caller's rows (every row, on a model whose GETs are public) on a
    flat route, or unique per the path's parent field on a nested one, so that the key names
    one row and an update or delete by it cannot reach two."""
    if key == "id":
        return None
    scope = (parent,) if parent is not None else OWNER_SCOPE
    wanted = f"unique per {parent}" if parent is not None else "unique"
    keyed = [f for f in model.fields if f.required != "auto" or f.slugged or f.numbered]
    keys = [f.name for f in keyed if f.unique == scope and f.name != "id"]
    expected = "{id}" + "".join(f" or {{{name}}}" for name in keys)
    item = model.field(key)
    if item is None or item not in keyed:
        return f"{{{key}}} is no field of {model.name}; expected {expected}"
    if key in ROUTE_PARAMETERS:
        return (
            f"{{{key}}} is a name the route function uses ({', '.join(ROUTE_PARAMETERS)});"
            f" expected {expected}, or another name for the field"
        )
    if item.unique == scope:
        return None
    if parent is None and item.unique is not None:
        (within,) = item.unique
        target = model.field(within)
        parents = table_name(target.type.ref or "") if target is not None else within
        return (
            f"{{{key}}} is {model.name}.{key}, unique per {within}: it names a row only under"
            f" one {within}; expected /api/v1/{parents}/{{{within}}}/{model.table}/{{{key}}},"
            f" or {expected} here"
        )
    return (
        f"{{{key}}} is {model.name}.{key}, which is not {wanted}, so it may name several rows;"
        f" expected '{wanted}' after its Type, or {expected}"
    )


def _same_shape(
    doc: FeatureDoc, endpoint: Endpoint, listed: dict[str, Operation], operation: str
) -> str | None:
    """A second item route of one method for the same rows (`GET /labels/{id}` and `GET
    /labels/{name}`): one path shape, so one route would hide the other."""
    if operation not in listed:
        return None
    other = next(
        (
            e
            for e in doc.endpoints
            if e.method == endpoint.method
            and e.line < endpoint.line
            and e.path.rsplit("/", 1)[0] == endpoint.path.rsplit("/", 1)[0]
        ),
        None,
    )
    shown = f"{other.key} (line {other.line})" if other is not None else "another route"
    return (
        f"has the path shape of {shown}, so one route would hide the other; expected one"
        f" {endpoint.method} of a row, by {{id}} or by a unique field"
    )


def _nesting_problem(model: Model, field: str, parents: str, listing: Operation) -> str | None:
    """Why `/api/v1/<parents>/{field}/<model's rows>` cannot be generated, or None."""
    item = model.field(field)
    if item is None or item.type.kind != "ref" or item.required == "auto":
        paths = ", ".join(
            f"/api/v1/{table_name(ref.type.ref or '')}/{{{ref.name}}}/{model.table}"
            for ref in _input_fields(model)
            if ref.type.kind == "ref"
        )
        return (
            f"{{{field}}} is not a ref field of {model.name}, so it names no parent row;"
            f" expected a path under the parent a ref field names: {paths or 'a ref(Model) field'}"
        )
    owner = table_name(item.type.ref or "")
    if owner != parents:
        return (
            f"{field} is ref({item.type.ref}), whose rows are /api/v1/{owner}, not"
            f" /api/v1/{parents}; expected /api/v1/{owner}/{{{field}}}/{model.table}"
        )
    if 404 not in listing.statuses:
        return (
            "a route under a parent answers 404 when the caller cannot see the parent (or the"
            " row is not under it); expected a 'Response 404 | NotFoundError' row"
        )
    if field in listing.query:
        return f"query parameter {field!r} is the path's parent; expected it only in the path"
    return None


def _rows_nothing_creates(
    doc: FeatureDoc,
    operations: dict[str, dict[str, Operation]],
    nested: dict[str, dict[str, Nesting]],
    first_lines: dict[str, int],
) -> list[str]:
    """Routes over rows that no route creates: a model whose doc lists endpoints but no POST
    (flat, or under a parent), or a `ref` to a model of this doc without one. Its clients
    could not make the row to read, change, delete or refer to, and neither could its
    generated tests."""

    def created(name: str) -> bool:
        creates = [operations.get(name, {})]
        creates += [nesting.operations for nesting in nested.get(name, {}).values()]
        return any("create" in routes for routes in creates)

    problems = []
    for model in doc.models:
        if model.name not in first_lines:
            continue
        resource = table_name(model.name)
        if not created(model.name):
            problems.append(
                f"{doc.path}:{first_lines[model.name]}: {model.name} has endpoints but no"
                f" POST /api/v1/{resource}, so no row of it could be made to read, change or"
                f" delete; expected POST /api/v1/{resource} too"
            )
        for item in model.fields:
            target = item.type.ref
            if target not in {m.name for m in doc.models} or target == model.name:
                continue
            if not created(target):
                problems.append(
                    f"{doc.path}:{item.line}: {model.name}.{item.name} is ref({target}), but"
                    f" this doc lists no POST /api/v1/{table_name(target)}, so no {target}"
                    " could be made to refer to; expected that endpoint"
                )
    return problems


def enum_name(model: Model, item: ModelField) -> str:
    """The class of an enum field (`TaskKind`), and the alias of a constrained type."""
    return f"{model.name}{pascal(item.name)}"


def _input_fields(model: Model) -> list[ModelField]:
    return [item for item in model.fields if item.required != "auto"]


def stored_fields(model: Model) -> list[ModelField]:
    """The doc's own columns: what a client sends, and the fields actions set (`closed_at`)."""
    return [item for item in model.fields if item.stored]


def answered_fields(model: Model) -> list[ModelField]:
    """What a row is answered with, beyond the system's fields: the stored ones and counts."""
    return [item for item in model.fields if item.required != "auto" or item.derived]


def _counted_words(model: Model, *, joined: bool = False) -> dict[str, str]:
    """Each count field as the generated tests name what it counts: `comments.card_id`, or
    the `refs` field (`labels`); `joined`: only those of a `refs(User)` field that callers
    join (`count(favorited_by)`), and only the others without it."""
    words = {}
    for item in model.fields:
        if item.counted is None:
            continue
        source, name = item.counted
        counted = model.field(name) if source is None else None
        if (counted is not None and counted.derived) == joined:
            words[item.name] = name if source is None else f"{table_name(source)}.{name}"
    return words


def counts_of(doc: FeatureDoc, model: Model) -> dict[str, tuple[str, str]]:
    """Each count field: the table and the column of the rows it counts (a `refs` field's
    link table and its column naming this row)."""
    counts = {}
    for item in model.fields:
        if item.counted is None:
            continue
        source, name = item.counted
        if source is None:
            field = model.field(name)
            assert field is not None
            link = link_of(model, field)
            counts[item.name] = (link.table, link.source)
        else:
            counts[item.name] = (table_name(source), name)
    return counts


def _filters(model: Model, listing: Operation) -> list[tuple[str, ModelField, str | None]]:
    """Query parameters of the list endpoint that name a model field, alone (equality) or
    with an operator (`priority__gte`): (the parameter, its field, the operator or None)."""
    fields = {item.name: item for item in _input_fields(model)}
    found = []
    for name in listing.query:
        field, operator = split_filter(name)
        item = fields.get(name) if operator is None else model.field(field)
        if item is not None:
            found.append((name, item, operator))
    return found


# ---------------------------------------------------------------------------- model


def _model(doc: FeatureDoc, model: Model, public: bool) -> dict[str, Any]:
    """The model template's names and types: each column's Python type, SQL type, default;
    each `refs` field's link table; and whether anyone may read its rows (and so refer to
    them)."""
    fields, enums, links = [], [], []
    for item in stored_fields(model):
        if item.type.kind == "refs":
            links.append({"name": item.name, "model": item.type.ref, "link": link_of(model, item)})
            continue
        python_type, column_type, imports = _column_types(item, model)
        if item.type.kind == "enum":
            enums.append({"name": python_type, "members": item.type.choices})
        default = python_default(item, model) or default_factory(item)
        if default == "utcnow":
            imports.append("from src.models.base import utcnow")
        fields.append(
            {
                "name": item.name,
                "python_type": python_type,
                "nullable": item.nullable,
                "column_type": column_type,
                "ref_table": table_name(item.type.ref) if item.type.ref else None,
                "on_delete": "SET NULL" if item.nullable else "CASCADE",
                "default": default,
                "check": range_condition(item),
                "unique": unique_index(doc, model, item),
                "gin": item.type.kind == "list",
                "imports": imports,
            }
        )
    overview = textwrap.fill(doc.overview, width=96) if doc.overview else ""
    summary = f"{doc.id} {doc.title}: the {model.name} model ({_doc_path(doc)})."
    return {
        "fields": fields,
        "enums": enums,
        "links": links,
        "summary": summary,
        "overview": overview,
        "public": public,
        "indexes": list_indexes(doc, model),
        "search": search_fields(doc, model),
        "counts": counts_of(doc, model),
        "members": members_of(model),
        "through": model.through,
        "authored": tuple(item.name for item in model.fields if item.authored),
        **made_by_the_server(model),
    }


def made_by_the_server(model: Model) -> dict[str, dict[str, str]]:
    """What the model and its tests name per field the server makes: each viewer flag with
    its `refs(User)` field, each slug with its source, each number with its scope."""
    return {
        "viewer_flags": {item.name: item.viewed for item in model.fields if item.viewed},
        "slugs": {item.name: item.slugged for item in model.fields if item.slugged},
        "numbers": {item.name: item.numbered for item in model.fields if item.numbered},
    }


def _column_types(item: ModelField, model: Model) -> tuple[str, str | None, list[str]]:
    """(Python type, SQLAlchemy column type or None for the default one, imports)."""
    kind, high = item.type.kind, item.type.high
    if kind == "list":
        element = list_item(item)
        python_type, column_type, imports = _column_types(element, model)
        if element.type.kind == "enum":  # kept as its text
            python_type, column_type = "str", column_of_enum(element.type)
            imports = ["from sqlalchemy import String"]
        elif column_type is None:  # the type Mapped[...] gives a column of its own
            column_type = {"int": "Integer", "date": "Date"}[element.type.kind]
            imports.append(f"from sqlalchemy import {column_type}")
        imports.append("from src.models.base import ValueList")
        return f"list[{python_type}]", f"ValueList({column_type})", imports
    if kind in ("object", "json"):
        imports = ["from typing import Any", "from src.models.base import JsonDocument"]
        return "dict[str, Any]", "JsonDocument", imports
    if kind == "str":
        sql = "Text" if high is None else f"String({int(high)})"
        return "str", sql, [f"from sqlalchemy import {sql.partition('(')[0]}"]
    if kind == "int":
        sql = int_column(item)[0]
        if sql == "Integer":  # the column type Mapped[int] gets
            return "int", None, []
        return "int", sql, [f"from sqlalchemy import {sql}"]
    if kind == "float":
        return "float", "Float", ["from sqlalchemy import Float"]
    if kind == "decimal":
        precision, scale = item.type.precision, item.type.scale
        sql = "Numeric" if precision is None else f"Numeric({precision}, {scale})"
        return "Decimal", sql, ["from decimal import Decimal", "from sqlalchemy import Numeric"]
    if kind == "bool":
        return "bool", None, []
    if kind == "date":
        return "date", None, ["from datetime import date"]
    if kind == "datetime":
        imports = ["from datetime import datetime", "from src.models.base import UTCDateTime"]
        return "datetime", "UTCDateTime", imports
    if kind in ("uuid", "ref"):
        return "uuid.UUID", "Uuid", ["import uuid", "from sqlalchemy import Uuid"]
    name = enum_name(model, item)
    return name, f'string_enum({name}, name="{item.name}")', []


def list_item(item: ModelField) -> ModelField:
    """A `list[T]` field's item as a field of its own (`tags_item`): the type each item is
    checked, stored and filtered by."""
    assert item.type.item is not None
    return ModelField(f"{item.name}_item", item.type.item, "yes", None, "", item.line)


def column_of_enum(field_type: FieldType) -> str:
    """The text column an enum item of a list is kept in: as long as `string_enum`'s."""
    return f"String({max(20, *(len(choice) for choice in field_type.choices))})"


def int_column(item: ModelField) -> tuple[str, tuple[int, int]]:
    """The integer column an `int` field gets, and the range it holds: SMALLINT for a range
    within it, BIGINT for one that INTEGER cannot hold, else INTEGER (an open side too)."""
    low, high = item.type.low, item.type.high
    if low is not None and high is not None and SMALLINT[0] <= low and high <= SMALLINT[1]:
        return "SmallInteger", SMALLINT
    if all(INT32[0] <= bound <= INT32[1] for bound in (low, high) if bound is not None):
        return "Integer", INT32
    return "BigInteger", INT64


def range_condition(item: ModelField, column: str | None = None) -> str | None:
    """The SQL of a numeric field's range CHECK (on `column`, the field's name by default)."""
    if item.type.kind not in ("int", "float"):
        return None
    low, high, column = item.type.low, item.type.high, column or item.name
    if low is not None and high is not None:
        return f"{column} BETWEEN {number_text(low)} AND {number_text(high)}"
    if low is not None:
        return f"{column} >= {number_text(low)}"
    if high is not None:
        return f"{column} <= {number_text(high)}"
    return None


def python_default(item: ModelField, model: Model) -> str | None:
    if item.default in (None, "null") or item.slugged or item.numbered or item.authored:
        return None  # a slug, a number and the author are made by the repository at create
    kind = item.type.kind
    if kind == "bool":
        return "True" if item.default == "true" else "False"
    if kind in ("int", "float"):
        return item.default
    if kind == "decimal":
        return f'Decimal("{item.default}")'
    if kind == "enum":
        return f"{enum_name(model, item)}.{item.default.upper()}"
    if kind == "date":
        year, month, day = (int(part) for part in item.default.split("-"))
        return f"date({year}, {month}, {day})"
    if kind in ("datetime", "uuid") and item.default in FACTORIES:
        return None  # a new value per row: default_factory()
    if kind == "uuid":
        return f"uuid.UUID({python_literal(item.default)})"
    return python_literal(item.default)


FACTORIES = {"utcnow()": "utcnow", "uuid4()": "uuid.uuid4"}
"""Defaults that are a new value per row: the function that makes it."""


def default_factory(item: ModelField) -> str | None:
    """The function a `utcnow()` or `uuid4()` default calls, for each row."""
    return FACTORIES.get(item.default or "")


# -------------------------------------------------------------------------- schemas


def _schemas(
    model: Model, nestings: dict[str, Nesting] | None = None, objects: tuple[Model, ...] = ()
) -> dict[str, Any]:
    """The schemas template's types: each field's input and response annotation, and the
    constrained types (aliases) they use; the body of each nested POST (its name, and
    the field the path gives instead); and the input schema of each `object(Name)`."""
    aliases: list[dict[str, str]] = []
    fields = [_field_data(item, model, aliases) for item in answered_fields(model)]
    used = {item.type.object for item in model.fields if item.type.kind == "object"}
    shapes = [
        {"name": shape.name, "fields": [_field_data(f, shape, aliases) for f in shape.fields]}
        for shape in objects
        if shape.name in used
    ]
    nested_creates = [
        {"name": nested_create_schema(model.name, field), "without": field}
        for field, nesting in (nestings or {}).items()
        if "create" in nesting.operations
    ]
    return {
        "fields": fields,
        "aliases": aliases,
        "nested_creates": nested_creates,
        "objects": shapes,
    }


def _field_data(item: ModelField, model: Model, aliases: list[dict[str, str]]) -> dict[str, Any]:
    """One input field as the schemas template writes it. A field of an object (`model` is
    the object) takes an enum as a `Literal` of its values: an object has no module of its
    own to hold an enum class."""
    imports: list[str] = []
    input_type, output_type = _schema_types(item, model, imports, aliases)
    factory = "list" if item.type.kind in ("refs", "list") else default_factory(item)
    if factory == "utcnow":
        imports.append("from src.models.base import utcnow")
    if item.derived:  # only in the Response: the imports its answered type needs
        words = set(re.findall(r"\w+", output_type))
        imports = [line for line in imports if line.rsplit(" ", 1)[-1] in words]
    default = python_default(item, model)
    if model.is_object and item.type.kind == "enum" and default is not None:
        default = python_literal(item.default)  # a value of its Literal
    return {
        "name": item.name,
        "derived": item.derived,
        "required": item.required == "yes",
        "fixed": item.fixed,
        "nullable": item.nullable,
        "input_type": input_type,
        "output_type": output_type,
        "default": default,
        "factory": factory,
        "imports": imports,
    }


def _expanded(model: Model, operations: dict[str, Operation]) -> dict[str, Any]:
    """The keys `<Model>ExpandedResponse` adds: each name a GET may expand, with the target's
    Response schema, whether it is a list (`refs`) and its import."""
    fields = expandable(model)
    names = dict.fromkeys(name for operation in operations.values() for name in operation.expand)
    expanded = []
    for name in names:
        target = fields[name].type.ref or ""
        module = Names.of(Model(target, (), 0)).module
        response = "UserSummary" if target == "User" else f"{target}Response"  # {id, name}
        expanded.append(
            {
                "name": name,
                "response": response,
                "many": fields[name].type.kind == "refs",
                "import": None
                if target == model.name
                else f"from src.schemas.{module} import {response}",
            }
        )
    return {"expanded": expanded}


def _schema_types(
    item: ModelField, model: Model, imports: list[str], aliases: list[dict[str, str]]
) -> tuple[str, str]:
    """(input annotation, response annotation) for one field."""
    kind = item.type.kind
    alias = enum_name(model, item)  # a constrained type is named as an enum would be
    bounds = _field_bounds(item)
    values = _value_types(item, model, imports, aliases)
    if values is not None:
        return values
    if kind == "refs" and item.derived:  # who joined (`+= current user`): answered only
        imports.append("import uuid")
        return "list[uuid.UUID]", "list[uuid.UUID]"
    if kind == "refs":  # the ids, each once, within the count bound (always bounded)
        imports += [
            "import uuid",
            "from typing import Annotated",
            "from pydantic import Field",
            "from src.schemas.base import DistinctIds",
        ]
        type_ = f"Annotated[list[uuid.UUID], Field({bounds}), DistinctIds]"
        aliases.append({"name": alias, "type": type_})
        return alias, "list[uuid.UUID]"
    if kind == "str":
        imports += ["from typing import Annotated", "from src.schemas.base import NoNul"]
        field = f"Field({bounds}), " if bounds else ""
        if field:
            imports.append("from pydantic import Field")
        aliases.append({"name": alias, "type": f"Annotated[str, {field}NoNul]"})
        return alias, "str"
    if kind == "decimal":
        imports += [
            "from decimal import Decimal",
            "from typing import Annotated",
            "from src.schemas.base import DecimalString",
        ]
        precision, scale = item.type.precision, item.type.scale
        exact = "" if precision is None else f"{precision}, {scale}"
        aliases.append({"name": alias, "type": f"Annotated[Decimal, DecimalString({exact})]"})
        if precision is None:  # no scale: answered without trailing zeros on every backend
            imports.append("from src.schemas.base import PlainDecimal")
            return alias, "PlainDecimal"
        return alias, "Decimal"
    if kind in ("int", "float"):
        base = {"int": "StrictInt", "float": "JsonFloat"}[kind]
        if kind == "float":
            imports.append("from src.schemas.base import JsonFloat")
        if kind == "int" and not bounds:
            imports.append("from src.schemas.base import JsonInt")
            return "JsonInt", kind
        if not bounds:
            return base, kind
        imports += ["from typing import Annotated", "from pydantic import Field"]
        if kind == "int":  # the bounds go inside, so the JSON schema shows them
            imports += [
                "from pydantic import StrictInt",
                "from src.schemas.base import WholeNumber",
            ]
            type_ = f"Annotated[StrictInt, Field({bounds}), WholeNumber]"
        else:
            type_ = f"Annotated[{base}, Field({bounds})]"
        aliases.append({"name": alias, "type": type_})
        return alias, kind
    if kind == "bool":
        imports.append("from pydantic import StrictBool")
        return "StrictBool", "bool"
    if kind == "date":
        imports += ["from datetime import date", "from src.schemas.base import IsoDate"]
        return "IsoDate", "date"
    if kind == "datetime":
        imports += ["from datetime import datetime", "from src.schemas.base import IsoDateTime"]
        return "IsoDateTime", "datetime"
    if kind in ("uuid", "ref"):
        imports.append("import uuid")
        return "uuid.UUID", "uuid.UUID"
    name = enum_name(model, item)
    if model.is_object:  # no model module holds an enum class of an object's field
        return _literal_alias(name, item.type.choices, imports, aliases), "str"
    imports.append(f"from src.models.{Names.of(model).module} import {name}")
    return name, name


def _literal_alias(
    name: str, choices: tuple[str, ...], imports: list[str], aliases: list[dict[str, str]]
) -> str:
    """An enum of a list's items or of an object's field: a `Literal` of its values."""
    imports.append("from typing import Literal")
    aliases.append({"name": name, "type": f"Literal[{', '.join(map(python_literal, choices))}]"})
    return name


def _value_types(
    item: ModelField, model: Model, imports: list[str], aliases: list[dict[str, str]]
) -> tuple[str, str] | None:
    """(input, response) annotations of a `list`, `object` or `json` field; None for
    another kind. An object is answered as stored (a JSON object), so a changed object in
    the doc never fails to answer the rows written before it."""
    kind = item.type.kind
    if kind == "list":
        element = list_item(item)
        if element.type.kind == "enum":
            name = enum_name(model, element)
            item_type = output = _literal_alias(name, element.type.choices, imports, aliases)
            output = "str"
        else:
            item_type, output = _schema_types(element, model, imports, aliases)
        imports += ["from typing import Annotated", "from pydantic import Field"]
        type_ = f"Annotated[list[{item_type}], Field({_field_bounds(item)})]"
        aliases.append({"name": enum_name(model, item), "type": type_})
        return enum_name(model, item), f"list[{output}]"
    if kind == "object":
        imports.append("from typing import Any")
        return item.type.object or "", "dict[str, Any]"
    if kind == "json":
        imports += ["from typing import Any", "from src.schemas.base import JsonObject"]
        return "JsonObject", "dict[str, Any]"
    return None


def _field_bounds(item: ModelField) -> str:
    low, high = item.type.low, item.type.high
    if item.type.kind == "int" and (low is not None or high is not None):
        limits = int_column(item)[1]  # an open side is its column's limit, not a 500
        low, high = limits[0] if low is None else low, limits[1] if high is None else high
    if item.type.kind == "str" and high is None:
        high = TEXT_MAX_LENGTH  # every input is bounded, and its JSON schema says so
    if item.type.kind == "refs" and high is None:
        high = REFS_MAX_ITEMS
    if item.type.kind == "list" and high is None:
        high = LIST_MAX_ITEMS
    counted = item.type.kind in ("str", "refs", "list")
    keys = ("min_length", "max_length") if counted else ("ge", "le")
    bounds = [
        f"{key}={number_text(value)}"
        for key, value in zip(keys, (low, high), strict=True)
        if value is not None
    ]
    if item.type.pattern is not None:
        bounds.append(f"pattern={python_literal(item.type.pattern)}")
    return ", ".join(bounds)


# --------------------------------------------------------------------------- routes


def _routes(
    model: Model, operations: dict[str, Operation], nestings: dict[str, Nesting] | None = None
) -> dict[str, Any]:
    """The routes template's data: each operation's documented error statuses, whether it is
    public, and the list's filters with their types; the same for each nesting's routes."""
    every = [*operations.values()]
    for nesting in (nestings or {}).values():
        every += nesting.operations.values()
    public = any(operation.public for operation in every)
    nested = [
        {
            "field": nesting.field,
            "stem": nesting.stem,
            "parent": nesting.parent_names,
            "create_schema": nested_create_schema(model.name, nesting.field),
            "operations": _shown(nesting.operations, public, model),
            "located_by": _located_by(nesting.operations),
            "filters": _filter_data(model, nesting.operations),
            "query": _list_query(nesting.operations),
        }
        for nesting in (nestings or {}).values()
    ]
    return {
        "members": members_of(model),
        "operations": _shown(operations, public, model),
        "filters": _filter_data(model, operations),
        "query": _list_query(operations),
        "nestings": nested,
        "located_by": _located_by(operations),
    }


def _located_by(operations: dict[str, Operation]) -> str:
    """The field a create's `Location` names its row by: the key of the GET, else of another
    item route (`id` unless a route is keyed by a unique field)."""
    if "get" in operations:
        return operations["get"].key
    keys = [operations[name].key for name in ("update", "patch", "delete") if name in operations]
    return next((key for key in keys if key != "id"), "id")


def _key_data(model: Model, key: str) -> dict[str, Any]:
    """How an item route takes the key in its path: the path segment, the function's
    parameter (typed as the field, so a bad key is a 400 naming it), the value the service
    gets, and the imports."""
    if key == "id":
        return {"name": "id", "path": "{id}", "param": "id: uuid.UUID", "imports": ["import uuid"]}
    item = model.field(key)
    assert item is not None
    imports: list[str] = []
    python_type, limits, metadata = _filter_type(item, model, imports, TEXT_MAX_LENGTH)
    annotation = python_type
    if limits or metadata:
        imports += ["from typing import Annotated", "from fastapi import Path"]
        annotation = f"Annotated[{python_type}, Path({limits.rstrip(', ')}){metadata}]"
    # Any text but NUL: a `/` in it is sent as %2F, which the server decodes before routing.
    path = f"{{{key}:path}}" if item.type.kind == "str" else f"{{{key}}}"
    return {"name": key, "path": path, "param": f"{key}: {annotation}", "imports": imports}


def _shown(
    operations: dict[str, Operation], public: bool, model: Model
) -> dict[str, dict[str, Any]]:
    """Each operation, in CRUD order: whether it is public, the statuses it documents and,
    for an item route, its key."""
    shown = {}
    for name, operation in operations.items():
        statuses = {*operation.errors, *PLATFORM_STATUSES.get(name, ())}
        if public and not operation.public:
            statuses.add(401)  # the router does not document 401 for every route then
        if operation.optional:
            statuses.add(401)  # a token sent that is not valid
        if model.in_team and name in WRITES and not (model.shared and name == "create"):
            statuses.add(403)  # a member whose role allows no write (anyone makes a container)
        shown[name] = {
            "public": operation.public,
            "optional": operation.optional,
            "responses": sorted(statuses),
            "expand": operation.expand,
            "key": _key_data(model, operation.key),
        }
    return {name: shown[name] for name in CRUD_SHAPES.values() if name in shown}


WRITES = ("create", "update", "patch", "delete")
"""The CRUD operations a team member's role may not allow (a viewer's: a 403)."""

OPERATOR_RULES = {
    None: "is this",
    "gte": "is at least this",
    "gt": "is more than this",
    "lte": "is at most this",
    "lt": "is less than this",
    "ne": "is not this (null is not it either)",
    "in": "is one of these (comma-separated)",
    "isnull": "is null (true) or is not (false)",
    "contains": "contains this text, ignoring case",
}
"""How a list filter's description says its rule: "Only tasks whose `priority` ..."."""


def _filter_data(model: Model, operations: dict[str, Operation]) -> list[dict[str, Any]]:
    """Each list filter's parameter: its name and field, the rule its description says, and
    its type, `Query` limits and metadata in the URL's form (`_filter_type`)."""
    filters = []
    for name, item, operator in _filters(model, operations["list"]) if "list" in operations else ():
        imports: list[str] = []
        python_type, limits, metadata = _filter_type(item, model, imports)
        if operator == "isnull":
            python_type, limits, metadata = "bool", "", ""
        elif operator == "contains" and item.type.kind == "str":  # a part of the text
            limits = "min_length=1, " + limits.replace(
                f"min_length={int(item.type.low or 0)}, ", ""
            )
        elif operator == "in":
            field = f"Field({limits.rstrip(', ')})" if limits else ""
            parts = [python_type, field, metadata.removeprefix(", ")]
            item_type = ", ".join(part for part in parts if part)
            item_type = item_type if item_type == python_type else f"Annotated[{item_type}]"
            if field:
                imports.append("from pydantic import Field")
            imports += ["from typing import Annotated", "from src.api.queries import OneOf"]
            python_type, limits, metadata = "str", "", f", OneOf({item_type})"
        filters.append(
            {
                "name": name,
                "field": item.name,
                "rule": _rule(item, operator),
                "type": python_type,
                "limits": limits,
                "metadata": metadata,
                "imports": imports,
            }
        )
    return filters


def _rule(item: ModelField, operator: str | None) -> str:
    """What a filter's description says of its field: a `refs` field has the id, a `list`
    holds the item, else the operator's rule."""
    if item.type.kind == "refs":
        return "has this id"
    if item.type.kind == "list" and operator in (None, "contains"):
        return "holds this item"
    return OPERATOR_RULES[operator]


def _list_query(operations: dict[str, Operation]) -> dict[str, Any]:
    """A list's `sort` (its keys and default) and whether it takes `q`."""
    listing = operations.get("list")
    sort = listing.sort if listing is not None else None
    return {
        "sort": None if sort is None else {"keys": sort.taken, "default": sort.default},
        "search": listing.search if listing is not None else (),
        "search_words": " or ".join(f"`{name}`" for name in listing.search) if listing else "",
    }


def _filter_type(
    item: ModelField, model: Model, imports: list[str], text_max: int = FILTER_TEXT_MAX_LENGTH
) -> tuple[str, str, str]:
    """(type, the `Query` limits, metadata after it) of a list filter (or a path's key): it
    takes what the field takes, in the URL's form (`?minutes=5`), so a value past a column's
    range or a NUL is a 400, never a query that fails; a `str` without a maximum gets one
    (`text_max`)."""
    kind, low, high = item.type.kind, item.type.low, item.type.high
    if kind in ("uuid", "ref", "refs"):  # a `refs` filter: rows that have this id
        imports.append("import uuid")
        return "uuid.UUID", "", ""
    if kind == "list":  # rows whose list holds this item
        element = list_item(item)
        if element.type.kind == "enum":
            imports.append("from typing import Literal")
            return f"Literal[{', '.join(map(python_literal, element.type.choices))}]", "", ""
        return _filter_type(element, model, imports, text_max)
    if kind == "enum":
        name = enum_name(model, item)
        imports.append(f"from src.models.{Names.of(model).module} import {name}")
        return name, "", ""
    if kind == "date":
        imports.append("from src.schemas.base import DateText")
        return "DateText", "", ""
    if kind == "datetime":
        imports.append("from src.schemas.base import IsoDateTime")
        return "IsoDateTime", "", ""
    if kind == "str":
        imports.append("from src.schemas.base import NoNul")
        limits = f"min_length={int(low)}, " if low else ""
        limits += f"max_length={int(high) if high is not None else text_max}, "
        return "str", limits, ", NoNul"
    if kind == "decimal":
        imports += ["from decimal import Decimal", "from src.schemas.base import DecimalString"]
        exact = "" if item.type.precision is None else f"{item.type.precision}, {item.type.scale}"
        return "Decimal", "", f", DecimalString({exact})"
    if kind == "int":
        column = int_column(item)[1]  # an open side is its column's limit
        low, high = column[0] if low is None else low, column[1] if high is None else high
        return "int", f"ge={number_text(low)}, le={number_text(high)}, ", ""
    if kind == "float":
        limits = "".join(
            f"{key}={number_text(value)}, "
            for key, value in (("ge", low), ("le", high))
            if value is not None
        )
        return "float", limits + "allow_inf_nan=False, ", ""
    return "bool", "", ""


# ---------------------------------------------------------------------------- tests


def _tests(
    model: Model,
    operations: dict[str, Operation],
    nestings: dict[str, Nesting] | None = None,
    objects: tuple[Model, ...] = (),
) -> dict[str, Any]:
    """The test template's data: a valid body's required values, the references a body
    needs, and each operation's documented statuses; for each nesting its parent and
    statuses."""
    valid = {
        item.name: _sample(item, objects)
        for item in _input_fields(model)
        if item.required == "yes" and item.type.kind not in ("ref", "refs")
    }
    references = {
        item.name: table_name(item.type.ref or "")
        for item in _input_fields(model)
        if item.type.kind == "ref"
    }
    links = {
        item.name: table_name(item.type.ref or "")
        for item in _input_fields(model)
        if item.type.kind == "refs"
    }
    listing = operations.get("list")
    filtered = [name for name in links if listing and name in listing.query]
    expand = {name: operation.expand for name, operation in operations.items() if operation.expand}
    nested = [
        {
            "name": f"{pascal(table_name(model.name))}In{pascal(nesting.stem)}",
            "parent": nesting.parent_names.resource,
            "field": nesting.field,
            "parent_words": in_words(nesting.parent),
            "statuses": _statuses(nesting.operations),
            "keyed_by": _keys(nesting.operations),
            "queried": _queried(nesting.operations.get("list")),
        }
        for nesting in (nestings or {}).values()
    ]
    fixed = tuple(item.name for item in _input_fields(model) if item.fixed)
    return {
        "queried": _queried(listing),
        "valid": valid,
        "references": references,
        "links": links,
        "link_filters": filtered,
        "statuses": _statuses(operations),
        "nestings": nested,
        "fixed": fixed,
        "expand": expand,
        "keys": _keys(operations),
        "optional": tuple(name for name, operation in operations.items() if operation.optional),
    }


def _queried(listing: Operation | None) -> bool:
    """Whether a list takes `sort`, a filter operator or `q` (QueryContract tests them)."""
    if listing is None:
        return False
    return bool(listing.sort or listing.search or any(split_filter(n)[1] for n in listing.query))


def _keys(operations: dict[str, Operation]) -> dict[str, str]:
    """Each item route keyed by a unique field, and that field (none: every route by id)."""
    return {name: operation.key for name, operation in operations.items() if operation.key != "id"}


def _statuses(operations: dict[str, Operation]) -> dict[str, tuple[int, ...]]:
    return {name: operations[name].statuses for name in CRUD_SHAPES.values() if name in operations}


def _unique_scopes(doc: FeatureDoc, model: Model) -> dict[str, list[str]]:
    """Each unique field and the columns its value is unique within (none: among all rows),
    for the tests that a duplicate is refused there and allowed elsewhere."""
    indexes = {item.name: unique_index(doc, model, item) for item in _input_fields(model)}
    return {name: list(index[:-1]) for name, index in indexes.items() if index is not None}


def _sample(item: ModelField, objects: tuple[Model, ...] = ()) -> object:
    """A valid input value for a required field, as the answer gives it back (`"1.00"` for a
    `Decimal(8, 2)`): the value nearest 0 within its bounds (a list of as many items as it
    takes, at least one; an object with every field, so it is answered as sent)."""
    kind, low, high = item.type.kind, item.type.low, item.type.high
    if kind == "list":
        return [_sample(list_item(item))] * max(int(low or 1), 1)
    if kind == "object":
        shape = next(o for o in objects if o.name == item.type.object)
        return {f.name: _sample(f) for f in shape.fields}
    if kind == "json":
        return {"sample": [1, "x", None]}
    if kind == "str" and item.type.pattern is not None:
        return pattern_sample(item.type.pattern, low, high)
    if kind == "str":
        return "x" * max(int(low or 1), 1)
    if kind in ("int", "float"):
        nearest = max(low, 0) if low is not None else 0
        nearest = min(nearest, high) if high is not None else nearest
        return int(nearest) if kind == "int" else float(nearest)
    if kind == "decimal":
        precision, scale = item.type.precision, item.type.scale or 0
        whole = "0" if precision is not None and precision == scale else "1"
        return f"{whole}.{'0' * scale}" if scale else whole
    if kind == "bool":
        return True
    if kind == "date":
        return "2026-01-01"
    if kind == "datetime":
        return "2026-01-01T00:00:00Z"
    if kind == "uuid":
        return "00000000-0000-4000-8000-000000000000"
    return item.type.choices[0]


# ------------------------------------------------------------------------ registries


def _register_routes(text: str, names: Names) -> str:
    """`src/api/v1/router.py` with the route module imported and included, once."""
    include = f"api_router.include_router({names.resource}.router)"
    if include in text:
        return text
    text = _edit_imports(text, ROUTES_PACKAGE, add={names.resource})
    return text.rstrip("\n") + f"\n{include}\n"


def _unregister_routes(text: str, names: Names) -> str:
    """`src/api/v1/router.py` without the route module, if it is there."""
    include = f"api_router.include_router({names.resource}.router)\n"
    if include not in text:
        return text
    return _edit_imports(text, ROUTES_PACKAGE, remove={names.resource}).replace(include, "")


ROUTES_PACKAGE = "src.api.v1.routes"


def _register_model(text: str, model: Model, names: Names) -> str:
    """`src/models/__init__.py` with the model (and its enums) imported and exported."""
    exported = {model.name} | {
        enum_name(model, item) for item in model.fields if item.type.kind == "enum"
    }
    module = f"src.models.{names.module}"
    gone = _imported(text, module) - exported  # an enum renamed or removed
    text = _edit_imports(text, module, add=exported, remove=gone)
    return _edit_all(text, add=exported, remove=gone)


def _imported(text: str, module: str) -> set[str]:
    """The names `text` imports from `module`."""
    return {
        alias.name
        for node in ast.parse(text).body
        if isinstance(node, ast.ImportFrom) and node.module == module
        for alias in node.names
    }


def _edit_imports(
    text: str, module: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()
) -> str:
    """`text` with names added to or removed from its imports of `module`, and its import
    block sorted again (as ruff's isort rules want)."""
    nodes = [n for n in ast.parse(text).body if isinstance(n, ast.Import | ast.ImportFrom)]
    if not nodes:
        raise GenerationError([f"{module}: no import block to register it in"])
    statements = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module == module:
            node.names = [alias for alias in node.names if alias.name not in set(remove)]
            if not node.names:
                continue
        statements.append(ast.unparse(node))
    statements += [f"from {module} import {name}" for name in sorted(add)]
    lines = text.splitlines(keepends=True)
    start, end = nodes[0].lineno - 1, nodes[-1].end_lineno or nodes[-1].lineno
    return "".join(lines[:start]) + import_block(statements) + "\n" + "".join(lines[end:])


def _edit_all(text: str, *, add: set[str], remove: set[str]) -> str:
    """`text` with its `__all__` list holding `add` and not `remove`, sorted."""
    match = re.search(r"^__all__ = \[([^\]]*)\]", text, re.MULTILINE)
    if match is None:
        raise GenerationError(["src/models/__init__.py: no __all__ list"])
    listed = {n.strip().strip("\"'") for n in match[1].split(",") if n.strip()}
    names = sorted((listed | add) - remove)
    return text.replace(match[0], wrap(f"__all__ = {python_literal(names)}"))


def model_names(root: Path) -> frozenset[str]:
    """The project's models a doc may `ref`: each class with a `__tablename__` in the modules
    `src/models/__init__.py` imports, read from their source, so that `add` of a doc that did
    not change needs no SQLAlchemy (the mapped classes of a single-table subclass, which has
    no `__tablename__` of its own, are not seen)."""
    package = root / "src/models"
    registry = ast.parse((package / "__init__.py").read_text(encoding="utf-8"))
    modules = {
        node.module.removeprefix("src.models.")
        for node in registry.body
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.startswith("src.models.")
    }
    names: set[str] = set()
    for module in sorted(modules):
        path = package / f"{module.replace('.', '/')}.py"
        nodes = ast.parse(path.read_text(encoding="utf-8")).body if path.is_file() else []
        names.update(node.name for node in nodes if _names_a_table(node))
    return frozenset(names)


def _names_a_table(node: ast.stmt) -> TypeGuard[ast.ClassDef]:
    """A class that assigns `__tablename__`: a mapped model."""
    if not isinstance(node, ast.ClassDef):
        return False
    for statement in node.body:
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "__tablename__" for t in targets):
            return True
    return False


# ------------------------------------------------------------------------------ write


def _doc_path(doc: FeatureDoc) -> str:
    return f"docs/features/{doc.path.name}"


@dataclass(frozen=True)
class Plan:
    created: list[str]
    changed: list[str]
    unchanged: list[str]
    conflicts: list[str]

    def diff(self, root: Path, files: dict[str, str]) -> Iterable[str]:
        for path in self.created + self.changed + self.conflicts:
            target = root / path
            before = target.read_text(encoding="utf-8") if target.exists() else ""
            yield from difflib.unified_diff(
                before.splitlines(keepends=True),
                files[path].splitlines(keepends=True),
                fromfile=f"a/{path}" if before else "/dev/null",
                tofile=f"b/{path}",
            )


REGISTRIES = ("src/api/v1/router.py", "src/models/__init__.py")
"""Files `add` merges into rather than owns."""


def plan(files: dict[str, str], root: Path, registries: Iterable[str] = REGISTRIES) -> Plan:
    """What writing `files` would do. A CREATE file that exists with other text is a
    conflict (a hand edit); registries (router, models/__init__) are always merged."""
    created, changed, unchanged, conflicts = [], [], [], []
    for path, text in files.items():
        target = root / path
        if not target.exists():
            created.append(path)
        elif target.read_text(encoding="utf-8") == text:
            unchanged.append(path)
        elif path in registries:
            changed.append(path)
        else:
            conflicts.append(path)
    return Plan(created, changed, unchanged, conflicts)


def write_all(files: dict[str, str], root: Path) -> None:
    """Write every file or none: each goes to a temp file first, then all are renamed;
    if a rename fails, the files already replaced get their old text back."""
    staged: list[tuple[Path, Path, str | None]] = []
    try:
        for path, text in files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_name(f".{target.name}.featwright-tmp")
            temp.write_text(text, encoding="utf-8")
            before = target.read_text(encoding="utf-8") if target.exists() else None
            staged.append((temp, target, before))
        done: list[tuple[Path, str | None]] = []
        try:
            for temp, target, before in staged:
                os.replace(temp, target)
                forget_bytecode(target)
                done.append((target, before))
        except OSError:
            for target, before in reversed(done):
                if before is None:
                    target.unlink(missing_ok=True)
                else:
                    target.write_text(before, encoding="utf-8")
                forget_bytecode(target)
            raise
    finally:
        for temp, _, _ in staged:
            temp.unlink(missing_ok=True)


def forget_bytecode(path: Path) -> None:
    """Remove the .pyc of a module just rewritten or deleted: Python takes a .pyc as current
    while its source has the same size and modification second, so a file rewritten within
    the second at the same size would still run as it was (a migration Alembic loads, too)."""
    if path.suffix == ".py":
        with contextlib.suppress(OSError, NotImplementedError):
            Path(importlib.util.cache_from_source(str(path))).unlink(missing_ok=True)


def read_current(paths: Iterable[str], root: Path) -> dict[str, str | None]:
    """Each path's text now, None where there is no file: what `restore()` puts back."""
    return {
        path: (root / path).read_text(encoding="utf-8") if (root / path).exists() else None
        for path in paths
    }


def restore(before: dict[str, str | None], root: Path) -> None:
    """Undo a `write_all()`: old text back, files that did not exist removed."""
    write_all({path: text for path, text in before.items() if text is not None}, root)
    for path, text in before.items():
        if text is None:
            (root / path).unlink(missing_ok=True)
            forget_bytecode(root / path)
