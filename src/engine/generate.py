"""Render a design doc's File Plan as code, in the project's conventions.

Rendering is pure: it returns the text of every file the doc plans (and the two
registries a new model needs), formatted by ruff. Writing is `write_all()`: all
files or none, never over a hand edit unless forced.
"""

import difflib
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from src.core.errors import in_words
from src.engine.doc import INT64, FeatureDoc, Model, ModelField, number_text, table_name
from src.schemas.base import FILTER_TEXT_MAX_LENGTH, INT32, TEXT_MAX_LENGTH

SMALLINT = (-(2**15), 2**15 - 1)
CRUD_SHAPES = {
    ("POST", ""): "create",
    ("GET", "/{id}"): "get",
    ("GET", ""): "list",
    ("PUT", "/{id}"): "update",
    ("DELETE", "/{id}"): "delete",
}
PAGE_PARAMS = ("page", "limit")
PLATFORM_STATUSES = {
    "create": (409, 413, 422),  # Idempotency-Key in flight or reused; body too large
    "update": (412, 413, 428),  # If-Match stale or required; body too large
    "delete": (412, 428),
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


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def render_feature(doc: FeatureDoc, root: Path) -> dict[str, str]:
    """Every file `add` writes for `doc`, path (relative to root) -> full text."""
    all_names = [Names.of(model) for model in doc.models]
    operations = _crud_endpoints(doc, all_names)
    _check_plan(doc, all_names, with_routes=set(operations))
    header = f"{doc.id} {doc.title}"
    router = (root / "src/api/v1/router.py").read_text(encoding="utf-8")
    registry = (root / "src/models/__init__.py").read_text(encoding="utf-8")
    files: dict[str, str] = {}
    for model, names in zip(doc.models, all_names, strict=True):
        planned = names.planned()
        files[planned["model"]] = _model_file(header, doc, model)
        files[planned["schemas"]] = _schemas_file(header, doc, model, names)
        files[planned["repository"]] = _repository_file(names)
        files[planned["service"]] = _service_file(names)
        registry = _register_model(registry, model, names)
        if model.name in operations:
            ops = operations[model.name]
            files[planned["routes"]] = _routes_file(header, doc, model, names, ops)
            test_module = f"tests/features/test_{names.resource}.py"
            files[test_module] = _test_file(header, doc, model, names, ops)
            router = _register_routes(router, names)
        else:  # a changed doc may drop every endpoint of a model
            router = _unregister_routes(router, names)
    files["src/api/v1/router.py"] = router
    files["src/models/__init__.py"] = registry
    return {path: format_python(text, path) for path, text in files.items()}


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


def _crud_endpoints(doc: FeatureDoc, all_names: list[Names]) -> dict[str, dict[str, Operation]]:
    """Model -> each CRUD operation the doc lists for its resource."""
    operations: dict[str, dict[str, Operation]] = {}
    problems = []
    for endpoint in doc.endpoints:
        found = None
        for names in all_names:
            prefix = f"/api/v1/{names.resource}"
            if endpoint.path == prefix or endpoint.path.startswith(prefix + "/"):
                shape = (endpoint.method, endpoint.path.removeprefix(prefix))
                found = (names, CRUD_SHAPES.get(shape))
        if found is None or found[1] is None:
            shapes = [f"{m} /api/v1/{n.resource}{p}" for n in all_names for m, p in CRUD_SHAPES]
            problems.append(
                f"{doc.path}:{endpoint.line}: endpoint {endpoint.key} is not a CRUD operation"
                f" of this doc's models; expected one of {', '.join(shapes)}"
            )
            continue
        names, operation = found
        assert operation is not None
        if not endpoint.auth and operation not in PUBLIC_READS:
            problems.append(
                f"{doc.path}:{endpoint.line}: {endpoint.key} is public; expected Auth Required"
                " (rows belong to their owner: only GET endpoints may be public)"
            )
        errors = sorted(s for s in endpoint.responses if s >= 400 and s != 401)
        operations.setdefault(names.model, {})[operation] = Operation(
            errors,
            public=not endpoint.auth,
            statuses=tuple(sorted(endpoint.responses)),
            query=tuple(param.name for param in endpoint.query),
        )
    if problems:
        raise GenerationError(problems)
    return operations


def _input_fields(model: Model) -> list[ModelField]:
    return [item for item in model.fields if item.required != "auto"]


def _filters(model: Model, listing: Operation) -> list[ModelField]:
    """Query parameters of the list endpoint that name a model field."""
    fields = {item.name: item for item in _input_fields(model)}
    return [fields[name] for name in listing.query if name in fields]


# ---------------------------------------------------------------------------- model


def _model_file(header: str, doc: FeatureDoc, model: Model) -> str:
    imports = {"from sqlalchemy import Index", "from sqlalchemy.orm import Mapped, mapped_column"}
    imports.add("from src.models.base import OwnedEntity")
    enums, columns = [], []
    table_args = ['Index(None, "owner_id", "created_at", "id")']
    for item in _input_fields(model):
        kind, python_type, args = item.type.kind, "", []
        if kind == "str":
            python_type = "str"
            if item.type.high is not None:
                args.append(f"String({int(item.type.high)})")
                imports.add("from sqlalchemy import String")
            else:
                args.append("Text")
                imports.add("from sqlalchemy import Text")
        elif kind in ("int", "float"):
            python_type = kind
            if kind == "int" and int_column(item)[0] != "Integer":
                args.append(int_column(item)[0])
                imports.add(f"from sqlalchemy import {int_column(item)[0]}")
            if kind == "float":
                args.append("Float")
                imports.add("from sqlalchemy import Float")
            check = _range_check(item)
            if check:
                table_args.append(check)
                imports.add("from sqlalchemy import CheckConstraint")
        elif kind == "decimal":
            python_type = "Decimal"
            imports.add("from decimal import Decimal")
            imports.add("from sqlalchemy import Numeric")
            if item.type.precision is not None:
                args.append(f"Numeric({item.type.precision}, {item.type.scale})")
            else:
                args.append("Numeric")
        elif kind == "bool":
            python_type = "bool"
        elif kind == "date":
            python_type = "date"
            imports.add("from datetime import date")
        elif kind == "datetime":
            python_type = "datetime"
            imports.add("from datetime import datetime")
            imports.add("from src.models.base import UTCDateTime")
            args.append("UTCDateTime")
        elif kind == "uuid":
            python_type = "uuid.UUID"
            imports.update({"import uuid", "from sqlalchemy import Uuid"})
            args.append("Uuid")
        elif kind == "ref":
            python_type = "uuid.UUID"
            imports.update({"import uuid", "from sqlalchemy import ForeignKey, Uuid"})
            on_delete = "SET NULL" if item.nullable else "CASCADE"
            target = table_name(item.type.ref or "")
            args += ["Uuid", f'ForeignKey("{target}.id", ondelete="{on_delete}")']
            table_args.append(f'Index(None, "{item.name}", "created_at", "id")')
        elif kind == "enum":
            python_type = f"{model.name}{pascal(item.name)}"
            imports.update({"import enum", "from src.models.base import string_enum"})
            members = "\n".join(f'    {c.upper()} = "{c}"' for c in item.type.choices)
            enums.append(f"class {python_type}(enum.StrEnum):\n{members}\n")
            args.append(f'string_enum({python_type}, name="{item.name}")')
        default = python_default(item, model) or default_factory(item)
        if default == "utcnow":
            imports.add("from src.models.base import utcnow")
        if default is not None:
            args.append(f"default={default}")
        annotation = f"Mapped[{python_type}{' | None' if item.nullable else ''}]"
        value = f" = mapped_column({', '.join(args)})" if args else ""
        columns.append(f"    {item.name}: {annotation}{value}")
    overview = textwrap.fill(doc.overview, width=96) if doc.overview else ""
    docstring = f"{header}: the {model.name} model ({_doc_path(doc)})."
    if overview:
        docstring += f"\n\n{overview}\n"
    body = [_docstring(docstring), "", *sorted(imports)]
    body += ["", "", *(f"{e}\n\n" for e in enums)]
    body += [
        f"class {model.name}(OwnedEntity):",
        f'    __tablename__ = "{model.table}"',
        f"    __table_args__ = ({', '.join(table_args)},)",
        "",
        *columns,
    ]
    return "\n".join(body) + "\n"


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


def _range_check(item: ModelField) -> str | None:
    condition = range_condition(item)
    if condition is None:
        return None
    return f'CheckConstraint("{condition}", name="{item.name}_range")'


def python_default(item: ModelField, model: Model) -> str | None:
    if item.default in (None, "null"):
        return None
    kind = item.type.kind
    if kind == "bool":
        return "True" if item.default == "true" else "False"
    if kind in ("int", "float"):
        return item.default
    if kind == "decimal":
        return f'Decimal("{item.default}")'
    if kind == "enum":
        return f"{model.name}{pascal(item.name)}.{item.default.upper()}"
    if kind == "date":
        year, month, day = (int(part) for part in item.default.split("-"))
        return f"date({year}, {month}, {day})"
    if kind in ("datetime", "uuid") and item.default in FACTORIES:
        return None  # a new value per row: default_factory()
    if kind == "uuid":
        return f"uuid.UUID({item.default!r})"
    return repr(item.default)


FACTORIES = {"utcnow()": "utcnow", "uuid4()": "uuid.uuid4"}
"""Defaults that are a new value per row: the function that makes it."""


def default_factory(item: ModelField) -> str | None:
    """The function a `utcnow()` or `uuid4()` default calls, for each row."""
    return FACTORIES.get(item.default or "")


# -------------------------------------------------------------------------- schemas


def _schemas_file(header: str, doc: FeatureDoc, model: Model, names: Names) -> str:
    imports = {
        "from pydantic import MISSING",
        "from src.schemas.base import InputSchema, ResourceResponse",
    }
    aliases: list[str] = []
    create: list[str] = []
    update: list[str] = []
    response: list[str] = []
    for item in _input_fields(model):
        input_type, output_type = _schema_types(item, model, imports, aliases)
        optional = " | None" if item.nullable else ""
        if item.required == "yes":
            create.append(f"    {item.name}: {input_type}")
        else:
            default = python_default(item, model) or "None"
            if (factory := default_factory(item)) is not None:
                default = f"Field(default_factory={factory})"
                imports.add("from pydantic import Field")
                if factory == "utcnow":
                    imports.add("from src.models.base import utcnow")
            create.append(f"    {item.name}: {input_type}{optional} = {default}")
        update.append(f"    {item.name}: {input_type}{optional} | MISSING = MISSING")
        response.append(f"    {item.name}: {output_type}{optional}")
    body = [
        _docstring(f"{header}: request and response schemas ({_doc_path(doc)})."),
        "",
        *sorted(imports),
        "",
        *aliases,
        "",
        "",
        f"class {names.model}Create(InputSchema):",
        *create,
        "",
        "",
        f"class {names.model}Update(InputSchema):",
        *update,
        "",
        "",
        f"class {names.model}Response(ResourceResponse):",
        *response,
    ]
    return "\n".join(body) + "\n"


def _schema_types(
    item: ModelField, model: Model, imports: set[str], aliases: list[str]
) -> tuple[str, str]:
    """(input annotation, response annotation) for one field."""
    kind = item.type.kind
    alias = f"{model.name}{pascal(item.name)}"
    bounds = _field_bounds(item)
    if kind == "str":
        imports.update({"from typing import Annotated", "from src.schemas.base import NoNul"})
        field = f"Field({bounds}), " if bounds else ""
        if field:
            imports.add("from pydantic import Field")
        aliases.append(f"{alias} = Annotated[str, {field}NoNul]")
        return alias, "str"
    if kind == "decimal":
        imports.update(
            {
                "from decimal import Decimal",
                "from typing import Annotated",
                "from src.schemas.base import DecimalString",
            }
        )
        precision, scale = item.type.precision, item.type.scale
        exact = "" if precision is None else f"{precision}, {scale}"
        aliases.append(f"{alias} = Annotated[Decimal, DecimalString({exact})]")
        if precision is None:  # no scale: answered without trailing zeros on every backend
            imports.add("from src.schemas.base import PlainDecimal")
            return alias, "PlainDecimal"
        return alias, "Decimal"
    if kind in ("int", "float"):
        base = {"int": "StrictInt", "float": "JsonFloat"}[kind]
        output = {"int": "int", "float": "float"}[kind]
        if kind == "float":
            imports.add("from src.schemas.base import JsonFloat")
        if kind == "int" and not bounds:
            imports.add("from src.schemas.base import JsonInt")
            return "JsonInt", output
        if not bounds:
            return base, output
        imports.update({"from typing import Annotated", "from pydantic import Field"})
        if kind == "int":  # the bounds go inside, so the JSON schema shows them
            imports.update(
                {"from pydantic import StrictInt", "from src.schemas.base import WholeNumber"}
            )
            aliases.append(f"{alias} = Annotated[StrictInt, Field({bounds}), WholeNumber]")
        else:
            aliases.append(f"{alias} = Annotated[{base}, Field({bounds})]")
        return alias, output
    if kind == "bool":
        imports.add("from pydantic import StrictBool")
        return "StrictBool", "bool"
    if kind == "date":
        imports.update({"from datetime import date", "from src.schemas.base import IsoDate"})
        return "IsoDate", "date"
    if kind == "datetime":
        imports.update(
            {"from datetime import datetime", "from src.schemas.base import IsoDateTime"}
        )
        return "IsoDateTime", "datetime"
    if kind in ("uuid", "ref"):
        imports.add("import uuid")
        return "uuid.UUID", "uuid.UUID"
    enum_name = f"{model.name}{pascal(item.name)}"
    imports.add(f"from src.models.{Names.of(model).module} import {enum_name}")
    return enum_name, enum_name


def _field_bounds(item: ModelField) -> str:
    low, high = item.type.low, item.type.high
    if item.type.kind == "int" and (low is not None or high is not None):
        limits = int_column(item)[1]  # an open side is its column's limit, not a 500
        low, high = limits[0] if low is None else low, limits[1] if high is None else high
    if item.type.kind == "str" and high is None:
        high = TEXT_MAX_LENGTH  # every input is bounded, and its JSON schema says so
    keys = ("min_length", "max_length") if item.type.kind == "str" else ("ge", "le")
    return ", ".join(
        f"{key}={number_text(value)}"
        for key, value in zip(keys, (low, high), strict=True)
        if value is not None
    )


# ------------------------------------------------------------ repository, service


def _repository_file(names: Names) -> str:
    return (
        f"from src.models.{names.module} import {names.model}\n"
        "from src.repositories.base import OwnedRepository\n\n\n"
        f"class {names.model}Repository(OwnedRepository[{names.model}]):\n"
        f"    model = {names.model}\n"
    )


def _service_file(names: Names) -> str:
    model = names.model
    return (
        f"from src.models.{names.module} import {model}\n"
        f"from src.schemas.{names.module} import {model}Create, {model}Update\n"
        "from src.services.base import CrudService\n\n\n"
        f"class {model}Service(CrudService[{model}, {model}Create, {model}Update]):\n"
        f'    resource = "{in_words(model)}"\n'
    )


# --------------------------------------------------------------------------- routes


def _routes_file(
    header: str, doc: FeatureDoc, model: Model, names: Names, operations: dict[str, Operation]
) -> str:
    m, r, mod = names.model, names.resource, names.module
    public = {name for name, operation in operations.items() if operation.public}
    authenticated = set(operations) - public
    imports = {
        "from typing import Annotated",
        "from fastapi import APIRouter, Depends",
        "from fastapi import Request",
        "from src.api.deps import database_of",
        "from src.api.problems import problem_responses",
        "from src.repositories.base import Record",
        f"from src.repositories.{mod}_repo import {m}Repository",
        f"from src.schemas.{mod} import {m}Response",
        f"from src.services.{mod}_service import {m}Service",
    }
    scope = "database_of(request), owner_id=user.id, unrestricted=user.is_superuser"
    router_401 = ", responses=problem_responses(401)" if not public else ""
    blocks = [f'router = APIRouter(prefix="/{r}", tags=["{r}"]{router_401})']
    if authenticated:
        imports.update(
            {"from src.api.deps import BearerUser", "from src.core.security import Principal"}
        )
        blocks += [
            f"def get_service(request: Request, user: Principal) -> {m}Service:\n"
            f"    return {m}Service({m}Repository({scope}))",
            f"Service = Annotated[{m}Service, Depends(BearerUser(get_service))]",
        ]
    if public:
        blocks += [
            f"async def get_public_service(request: Request) -> {m}Service:\n"
            '    """Public reads: every owner\'s rows, no token."""\n'
            f"    return {m}Service(\n"
            f"        {m}Repository(database_of(request), owner_id=None, unrestricted=True)\n"
            "    )",
            f"PublicService = Annotated[{m}Service, Depends(get_public_service)]",
        ]

    def service(operation: str) -> str:
        return "PublicService" if operation in public else "Service"

    def decorator(method: str, path: str, operation: str, extra: str) -> str:
        statuses = sorted({*operations[operation].errors, *PLATFORM_STATUSES.get(operation, ())})
        if public and operation in authenticated:
            statuses = sorted([*statuses, 401])
        errors = ", ".join(map(str, statuses))
        responses = f", responses=problem_responses({errors})" if errors else ""
        return f'@router.{method}("{path}"{extra}{responses})'

    if "create" in operations:
        imports.update(
            {
                f"from src.schemas.{mod} import {m}Create",
                "from fastapi import Response",
                "from src.api.idempotency import IdempotencyKey, created",
            }
        )
        blocks.append(
            decorator("post", "", "create", f", status_code=201, response_model={m}Response")
            + f"\nasync def create_{mod}(\n    request: Request, data: {m}Create, service: Service,"
            " key: IdempotencyKey = None\n) -> Response:\n"
            "    return await created(request, service, data, key)"
        )
    if "get" in operations:
        imports.update(
            {
                "import uuid",
                "from fastapi import Response",
                "from src.api.conditional import tagged",
            }
        )
        blocks.append(
            decorator("get", "/{id}", "get", f", response_model={m}Response")
            + f"\nasync def get_{mod}(id: uuid.UUID, service: {service('get')},"
            " response: Response) -> Record:\n"
            "    return tagged(response, await service.get(id))"
        )
    if "list" in operations:
        imports.update(
            {
                "from src.api.deps import PageDep",
                "from src.core.pagination import Page",
                "from src.schemas.base import PaginatedResponse",
            }
        )
        params, filters = ["page: PageDep", f"service: {service('list')}"], []
        for item in _filters(model, operations["list"]):
            python_type, limits, after = _filter_type(item, model, imports)
            imports.add("from fastapi import Query")
            description = f"Only {r.replace('_', ' ')} whose `{item.name}` is this."
            query = f'Query({limits}description="{description}"){after}'
            params.append(f"{item.name}: Annotated[{python_type} | None, {query}] = None")
            filters.append(f'"{item.name}": {item.name}')
        call = f"service.list(page, {{{', '.join(filters)}}})" if filters else "service.list(page)"
        blocks.append(
            decorator("get", "", "list", f", response_model=PaginatedResponse[{m}Response]")
            + f"\nasync def list_{r}({', '.join(params)}) -> Page[Record]:\n"
            f"    return await {call}"
        )
    if "update" in operations:
        imports.update(
            {
                "import uuid",
                f"from src.schemas.{mod} import {m}Update",
                "from fastapi import Response",
                "from src.api.conditional import IfMatch, tagged",
            }
        )
        blocks.append(
            decorator("put", "/{id}", "update", f", response_model={m}Response")
            + f"\nasync def update_{mod}(\n    id: uuid.UUID, data: {m}Update, service: Service,"
            " if_match: IfMatch, response: Response\n) -> Record:\n"
            "    return tagged(response, await service.update(id, data, if_match))"
        )
    if "delete" in operations:
        imports.update(
            {
                "import uuid",
                "from fastapi import Response",
                "from src.api.conditional import IfMatch",
            }
        )
        blocks.append(
            decorator("delete", "/{id}", "delete", ", status_code=204, response_class=Response")
            + f"\nasync def delete_{mod}(id: uuid.UUID, service: Service, if_match: IfMatch)"
            " -> None:\n    await service.delete(id, if_match)"
        )
    head = [_docstring(f"{header}: API endpoints ({_doc_path(doc)})."), "", *sorted(imports), ""]
    return "\n".join(head) + "\n" + "\n\n\n".join(blocks) + "\n"


def _filter_type(item: ModelField, model: Model, imports: set[str]) -> tuple[str, str, str]:
    """(type, the `Query` limits, metadata after it) of a list filter: it takes what the
    field takes, in the URL's form (`?minutes=5`), so a value past a column's range or a
    NUL is a 400, never a query that fails; a `str` without a maximum gets one."""
    kind, low, high = item.type.kind, item.type.low, item.type.high
    if kind in ("uuid", "ref"):
        imports.add("import uuid")
        return "uuid.UUID", "", ""
    if kind == "enum":
        enum_name = f"{model.name}{pascal(item.name)}"
        imports.add(f"from src.models.{Names.of(model).module} import {enum_name}")
        return enum_name, "", ""
    if kind == "date":
        imports.add("from datetime import date")
        return "date", "", ""
    if kind == "datetime":
        imports.add("from src.schemas.base import IsoDateTime")
        return "IsoDateTime", "", ""
    if kind == "str":
        imports.add("from src.schemas.base import NoNul")
        limits = f"min_length={int(low)}, " if low else ""
        limits += f"max_length={int(high) if high is not None else FILTER_TEXT_MAX_LENGTH}, "
        return "str", limits, ", NoNul"
    if kind == "decimal":
        imports.add("from decimal import Decimal")
        imports.add("from src.schemas.base import DecimalString")
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

CONTRACTS = {
    "create": "CreateContract",
    "get": "GetContract",
    "list": "ListContract",
    "update": "UpdateContract",
    "delete": "DeleteContract",
}


def _test_file(
    header: str, doc: FeatureDoc, model: Model, names: Names, operations: dict[str, Operation]
) -> str:
    statuses = {name: operation.statuses for name, operation in operations.items()}
    mixins = [CONTRACTS[operation] for operation in CONTRACTS if operation in statuses]
    valid = {
        item.name: _sample(item)
        for item in _input_fields(model)
        if item.required == "yes" and item.type.kind != "ref"
    }
    references = {
        item.name: table_name(item.type.ref or "")
        for item in _input_fields(model)
        if item.type.kind == "ref"
    }
    lines = [
        _docstring(f"{header}: the CRUD contract for each status in {_doc_path(doc)}."),
        "",
        f"from tests.crud_contract import {', '.join(sorted(mixins))}",
        "",
        "",
        f"class Test{pascal(names.resource)}({', '.join(mixins)}):",
        f'    resource = "{names.resource}"',
        "    valid = {" + ", ".join(f"{k!r}: {_literal(v)}" for k, v in valid.items()) + "}",
        f"    references = {references!r}",
        "    statuses = {"
        + ", ".join(f'"{op}": {statuses[op]!r}' for op in CONTRACTS if op in statuses)
        + "}",
    ]
    return "\n".join(lines) + "\n"


def _sample(item: ModelField) -> object:
    """A valid input value for a required field, as the answer gives it back (`"1.00"` for a
    `Decimal(8, 2)`): the value nearest 0 within its bounds."""
    kind, low, high = item.type.kind, item.type.low, item.type.high
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


def _literal(value: object) -> str:
    """`value` as Python source; a long run of one character as `"x" * 300`, so a line
    stays within the line length."""
    if isinstance(value, str) and len(value) > 20 and len(set(value)) == 1:
        return f"{value[0]!r} * {len(value)}"
    return repr(value)


# ------------------------------------------------------------------------ registries


def _register_routes(text: str, names: Names) -> str:
    """`src/api/v1/router.py` with the route module imported and included, once."""
    include = f"api_router.include_router({names.resource}.router)"
    if include in text:
        return text
    match = re.search(r"^from src\.api\.v1\.routes import (\(([^)]*)\)|(.+)$)", text, re.MULTILINE)
    if match is None:
        raise GenerationError(["src/api/v1/router.py: no 'from src.api.v1.routes import' line"])
    listed = (match[2] or match[3]).replace("\n", " ").split(",")
    modules = sorted({*(m.strip() for m in listed if m.strip()), names.resource})
    text = text.replace(match[0], f"from src.api.v1.routes import {', '.join(modules)}")
    return text.rstrip("\n") + f"\n{include}\n"


def _unregister_routes(text: str, names: Names) -> str:
    """`src/api/v1/router.py` without the route module, if it is there."""
    include = f"api_router.include_router({names.resource}.router)\n"
    if include not in text:
        return text
    match = re.search(r"^from src\.api\.v1\.routes import (\(([^)]*)\)|(.+)$)", text, re.MULTILINE)
    assert match is not None  # _register_routes wrote it
    listed = (match[2] or match[3]).replace("\n", " ").split(",")
    modules = sorted({m.strip() for m in listed if m.strip()} - {names.resource})
    text = text.replace(match[0], f"from src.api.v1.routes import {', '.join(modules)}")
    return text.replace(include, "")


def _register_model(text: str, model: Model, names: Names) -> str:
    """`src/models/__init__.py` with the model (and its enums) imported and exported."""
    exported = [model.name] + [
        f"{model.name}{pascal(item.name)}" for item in model.fields if item.type.kind == "enum"
    ]
    line = f"from src.models.{names.module} import {', '.join(exported)}"
    existing = re.search(
        rf"^from src\.models\.{names.module} import (\(([^)]*)\)|(.+)$)", text, re.MULTILINE
    )
    gone: set[str] = set()
    if existing is not None:  # registered before: its names now (an enum renamed or removed)
        listed = (existing[2] or existing[3]).replace("\n", " ").split(",")
        gone = {n.strip() for n in listed if n.strip()} - set(exported)
        text = text.replace(existing[0], line)
        line = ""
    match = re.search(r"^__all__ = \[([^\]]*)\]", text, re.MULTILINE)
    if match is None:
        raise GenerationError(["src/models/__init__.py: no __all__ list"])
    listed = match[1].replace("\n", " ").split(",")
    names_all = sorted({*(n.strip().strip('"') for n in listed if n.strip()), *exported} - gone)
    text = text.replace(match[0], f"__all__ = [{', '.join(f'{n!r}' for n in names_all)}]")
    return text.replace("\n\n__all__", f"\n{line}\n\n__all__", 1) if line else text


# ------------------------------------------------------------------- format & write


def _doc_path(doc: FeatureDoc) -> str:
    return f"docs/features/{doc.path.name}"


LINE_LENGTH = 100
"""pyproject.toml's: ruff formats to it, and cannot wrap a docstring or a string for us."""


def _docstring(text: str) -> str:
    """`text` as a module docstring; a first line too long for one line is wrapped."""
    first, newline, rest = text.partition("\n")
    if len(first) + 6 > LINE_LENGTH:
        first = textwrap.fill(
            first, width=LINE_LENGTH - 6, break_long_words=False, break_on_hyphens=False
        )
    return f'"""{first}{newline}{rest}"""'


def format_python(text: str, path: str) -> str:
    """ruff's import sorting and formatting, as `make format` applies them."""
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        raise GenerationError(
            [f"{ruff}: not found; `make install-dev` installs ruff, which add needs"]
        )
    for args in (["check", "--select", "I", "--fix", "--quiet"], ["format", "--quiet"]):
        result = subprocess.run(  # noqa: S603 (our own venv's ruff, fixed arguments)
            [str(ruff), *args, "--stdin-filename", path, "-"],
            input=text,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode not in (0, 1) or not result.stdout:
            raise GenerationError([f"{path}: ruff could not format the generated code"])
        text = result.stdout
    return text


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
                done.append((target, before))
        except OSError:
            for target, before in reversed(done):
                if before is None:
                    target.unlink(missing_ok=True)
                else:
                    target.write_text(before, encoding="utf-8")
            raise
    finally:
        for temp, _, _ in staged:
            temp.unlink(missing_ok=True)


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
