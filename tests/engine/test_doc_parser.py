"""Golden tests of the design-doc parser: the two real docs and two fixture docs, every type."""

from pathlib import Path

import pytest

from src.engine.doc import (
    TYPE_GRAMMAR,
    Endpoint,
    FeatureDoc,
    FieldType,
    Model,
    parse_doc,
    parse_type,
    table_name,
)
from tests.engine.conftest import (
    APP_MODELS,
    CATEGORIES_DOC,
    ORDERS_DOC,
    PROJECTS_DOC,
    TASKS_DOC,
    edited,
)

UUID = FieldType("uuid")
DATETIME = FieldType("datetime")
ERRORS_400_401 = {400: "ValidationError", 401: "UnauthorizedError"}
# The feature design template featwright implements, as it was given to us.
SEED_TEMPLATE = Path(__file__).parent / "docs" / "design-template.md"

# (name, type, required, default, nullable)
FieldRow = tuple[str, FieldType, str, str | None, bool]
# (method, path, auth, request, responses, query parameter names)
EndpointRow = tuple[str, str, bool, str | None, dict[int, str], tuple[str, ...]]


def field_rows(model: Model) -> list[FieldRow]:
    return [(f.name, f.type, f.required, f.default, f.nullable) for f in model.fields]


def endpoint_rows(doc: FeatureDoc) -> list[EndpointRow]:
    return [endpoint_row(endpoint) for endpoint in doc.endpoints]


def endpoint_row(e: Endpoint) -> EndpointRow:
    return (e.method, e.path, e.auth, e.request, e.responses, tuple(q.name for q in e.query))


def plan_rows(doc: FeatureDoc) -> list[tuple[str, str]]:
    return [(planned.path, planned.action) for planned in doc.file_plan]


def crud_plan(module: str, resource: str) -> list[tuple[str, str]]:
    return [
        (f"src/models/{module}.py", "CREATE"),
        (f"src/schemas/{module}.py", "CREATE"),
        (f"src/repositories/{module}_repo.py", "CREATE"),
        (f"src/services/{module}_service.py", "CREATE"),
        (f"src/api/v1/routes/{resource}.py", "CREATE"),
        ("src/api/v1/router.py", "MODIFY"),
    ]


def test_projects_doc() -> None:
    doc = parse_doc(PROJECTS_DOC, APP_MODELS)

    assert (doc.path, doc.id, doc.title) == (PROJECTS_DOC, "FEAT-001", "Projects")
    assert doc.overview.startswith("Authenticated CRUD for projects under `/api/v1/projects`:")
    assert doc.overview.endswith("ordered by `created_at`, then `id`, ascending.")
    assert len(doc.decisions) == 7
    assert doc.decisions[0].startswith("Another user's project answers 404, not 403")
    assert [(m.name, m.table, m.line) for m in doc.models] == [("Project", "projects", 18)]
    (project,) = doc.models
    assert field_rows(project) == [
        ("id", UUID, "auto", "uuid4()", False),
        ("owner_id", FieldType("ref", ref="User"), "auto", "current user", False),
        ("name", FieldType("str", low=1, high=200), "yes", None, False),
        ("description", FieldType("str", high=2000), "no", "null", True),
        ("status", FieldType("enum", choices=("active", "archived")), "no", "active", False),
        ("created_at", DATETIME, "auto", "utcnow()", False),
        ("updated_at", DATETIME, "auto", "utcnow()", False),
    ]
    assert [f.line for f in project.fields] == list(range(21, 28))
    assert project.field("name") is project.fields[2]
    assert project.field("nope") is None
    assert project.fields[0].description == "Primary key"

    with_404 = {**ERRORS_400_401, 404: "NotFoundError"}
    assert endpoint_rows(doc) == [
        (
            "POST",
            "/api/v1/projects",
            True,
            "ProjectCreate",
            {201: "ProjectResponse", **ERRORS_400_401},
            (),
        ),
        ("GET", "/api/v1/projects/{id}", True, None, {200: "ProjectResponse", **with_404}, ()),
        (
            "GET",
            "/api/v1/projects",
            True,
            None,
            {200: "PaginatedResponse[ProjectResponse]", **ERRORS_400_401},
            ("page", "limit"),
        ),
        (
            "PUT",
            "/api/v1/projects/{id}",
            True,
            "ProjectUpdate",
            {200: "ProjectResponse", **with_404},
            (),
        ),
        ("DELETE", "/api/v1/projects/{id}", True, None, {204: "No content", **with_404}, ()),
    ]
    assert [e.line for e in doc.endpoints] == [31, 40, 49, 58, 68]
    assert [e.key for e in doc.endpoints][2] == "GET /api/v1/projects"
    page, limit = doc.endpoints[2].query
    assert (page.name, page.detail) == ("page", "int, default 1, 1..10000000")
    assert (limit.name, limit.detail) == ("limit", "int, default 20, 1..100")

    assert plan_rows(doc) == crud_plan("project", "projects")
    assert [planned.line for planned in doc.file_plan] == list(range(81, 87))
    assert doc.file_plan[5].description.startswith("Register route: `api_router.include_router(")


def test_tasks_doc() -> None:
    doc = parse_doc(TASKS_DOC, APP_MODELS)

    assert (doc.id, doc.title) == ("FEAT-002", "Tasks")
    assert doc.overview.startswith("Authenticated CRUD for tasks under `/api/v1/tasks`:")
    assert len(doc.decisions) == 8
    assert [(m.name, m.table, m.line) for m in doc.models] == [("Task", "tasks", 18)]
    assert field_rows(doc.models[0]) == [
        ("id", UUID, "auto", "uuid4()", False),
        ("owner_id", FieldType("ref", ref="User"), "auto", "current user", False),
        ("project_id", FieldType("ref", ref="Project"), "yes", None, False),
        ("title", FieldType("str", low=1, high=200), "yes", None, False),
        ("done", FieldType("bool"), "no", "false", False),
        ("priority", FieldType("int", low=1, high=5), "no", "3", False),
        ("due_date", FieldType("date"), "no", "null", True),
        ("created_at", DATETIME, "auto", "utcnow()", False),
        ("updated_at", DATETIME, "auto", "utcnow()", False),
    ]
    assert [f.line for f in doc.models[0].fields] == list(range(21, 30))

    with_404 = {**ERRORS_400_401, 404: "NotFoundError"}
    assert endpoint_rows(doc) == [
        ("POST", "/api/v1/tasks", True, "TaskCreate", {201: "TaskResponse", **with_404}, ()),
        ("GET", "/api/v1/tasks/{id}", True, None, {200: "TaskResponse", **with_404}, ()),
        (
            "GET",
            "/api/v1/tasks",
            True,
            None,
            {200: "PaginatedResponse[TaskResponse]", **ERRORS_400_401},
            ("page", "limit", "project_id"),
        ),
        ("PUT", "/api/v1/tasks/{id}", True, "TaskUpdate", {200: "TaskResponse", **with_404}, ()),
        ("DELETE", "/api/v1/tasks/{id}", True, None, {204: "No content", **with_404}, ()),
    ]
    assert [e.line for e in doc.endpoints] == [33, 43, 52, 61, 71]
    assert doc.endpoints[2].query[2].detail == "UUID, optional: only this project's tasks"
    assert plan_rows(doc) == crud_plan("task", "tasks")


def test_orders_fixture_two_models_numbers_dates_decimals() -> None:
    # "Order" is passed as known so this golden test does not depend on the same-doc
    # reference rule, which has its own test below.
    doc = parse_doc(ORDERS_DOC, frozenset({"User", "Product", "Order"}))

    assert (doc.id, doc.title) == ("FEAT-003", "Orders")
    assert doc.decisions == ("Totals are `Decimal(10, 2)`: money is never a float.",)
    assert [(m.name, m.table, m.line) for m in doc.models] == [
        ("Order", "orders", 16),
        ("OrderLine", "order_lines", 32),
    ]
    order, line = doc.models
    assert field_rows(order) == [
        ("id", UUID, "auto", "uuid4()", False),
        ("owner_id", FieldType("ref", ref="User"), "auto", "current user", False),
        ("number", FieldType("str", high=20), "yes", None, False),
        ("total", FieldType("decimal", precision=10, scale=2), "no", "0", False),
        ("discount", FieldType("decimal"), "no", "null", True),
        ("weight_kg", FieldType("float", low=0, high=1000.5), "no", "null", True),
        ("placed_on", FieldType("date"), "no", "null", True),
        ("shipped_at", DATETIME, "no", "null", True),
        ("paid", FieldType("bool"), "no", "false", False),
        ("state", FieldType("enum", choices=("draft", "placed", "shipped")), "no", "draft", False),
        ("created_at", DATETIME, "auto", "utcnow()", False),
        ("updated_at", DATETIME, "auto", "utcnow()", False),
    ]
    assert field_rows(line) == [
        ("id", UUID, "auto", "uuid4()", False),
        ("order_id", FieldType("ref", ref="Order"), "yes", None, False),
        ("product_id", FieldType("ref", ref="Product"), "yes", None, False),
        ("quantity", FieldType("int", low=1, high=999), "yes", None, False),
        ("position", FieldType("int"), "no", "1", False),
        ("created_at", DATETIME, "auto", "utcnow()", False),
        ("updated_at", DATETIME, "auto", "utcnow()", False),
    ]

    assert endpoint_rows(doc) == [
        (
            "POST",
            "/api/v1/orders",
            True,
            "OrderCreate",
            {201: "OrderResponse", **ERRORS_400_401, 409: "ConflictError"},
            (),
        ),
        (
            "GET",
            "/api/v1/orders/{id}",
            True,
            None,
            {200: "OrderResponse", 401: "UnauthorizedError", 404: "NotFoundError"},
            (),
        ),
        (
            "GET",
            "/api/v1/orders",
            True,
            None,
            {200: "PaginatedResponse[OrderResponse]", **ERRORS_400_401},
            ("page", "limit", "state"),
        ),
        (
            "PUT",
            "/api/v1/orders/{id}",
            True,
            "OrderUpdate",
            {200: "OrderResponse", **ERRORS_400_401, 404: "NotFoundError"},
            (),
        ),
        (
            "DELETE",
            "/api/v1/orders/{id}",
            True,
            None,
            {204: "No content", 401: "UnauthorizedError", 404: "NotFoundError"},
            (),
        ),
        (
            "POST",
            "/api/v1/order-lines",
            True,
            "OrderLineCreate",
            {201: "OrderLineResponse", **ERRORS_400_401, 404: "NotFoundError"},
            (),
        ),
    ]
    assert doc.endpoints[2].query[2].detail == "enum, optional: only orders in this state"
    # A path in backticks is read without them.
    assert plan_rows(doc) == crud_plan("order", "orders")
    assert [planned.line for planned in doc.file_plan] == list(range(104, 110))


def test_categories_fixture_public_endpoints_and_no_delete() -> None:
    doc = parse_doc(CATEGORIES_DOC, frozenset({"User"}))

    assert (doc.id, doc.title) == ("FEAT-004", "Product Categories")
    assert doc.overview.startswith("A public catalog of product categories")
    assert len(doc.decisions) == 2
    assert [(m.name, m.table, m.line) for m in doc.models] == [("Category", "categories", 8)]
    assert field_rows(doc.models[0]) == [
        ("id", UUID, "auto", "uuid4()", False),  # `UUID` in backticks
        ("name", FieldType("str", low=1, high=80), "yes", None, False),
        ("description", FieldType("str"), "no", "null", True),
        ("parent_id", FieldType("ref", ref="Category"), "no", "null", True),  # its own model
        ("sort_offset", FieldType("int", low=-100, high=100), "no", "0", False),
        ("rating", FieldType("float"), "no", "null", True),
        ("visible", FieldType("bool"), "no", "true", False),
        ("created_at", DATETIME, "auto", "utcnow()", False),
        ("updated_at", DATETIME, "auto", "utcnow()", False),
    ]

    assert endpoint_rows(doc) == [
        (
            "GET",
            "/api/v1/categories/{id}",
            False,
            None,
            {200: "CategoryResponse", 404: "NotFoundError"},
            (),
        ),
        (
            "GET",
            "/api/v1/categories",
            False,
            None,
            {200: "PaginatedResponse[CategoryResponse]", 400: "ValidationError"},
            ("page", "limit", "parent_id", "visible"),
        ),
        (
            "POST",
            "/api/v1/categories",
            True,
            "CategoryCreate",
            {201: "CategoryResponse", **ERRORS_400_401, 409: "ConflictError"},
            (),
        ),
        (
            "PATCH",
            "/api/v1/categories/{id}",
            True,
            "CategoryUpdate",
            {
                200: "CategoryResponse",
                **ERRORS_400_401,
                403: "ForbiddenError",
                404: "NotFoundError",
            },
            (),
        ),
    ]
    assert not any(endpoint.method == "DELETE" for endpoint in doc.endpoints)
    assert plan_rows(doc) == crud_plan("category", "categories")


def test_the_four_docs_use_every_type_required_value_and_default() -> None:
    docs = [
        parse_doc(PROJECTS_DOC, APP_MODELS),
        parse_doc(TASKS_DOC, APP_MODELS),
        parse_doc(ORDERS_DOC, frozenset({"User", "Product", "Order"})),
        parse_doc(CATEGORIES_DOC, frozenset({"User"})),
    ]
    fields = [f for doc in docs for model in doc.models for f in model.fields]

    def shape(t: FieldType) -> str:
        if t.kind in ("str", "int", "float") and (t.low, t.high) != (None, None):
            return f"{t.kind}({'a' if t.low is not None else ''}..b)"
        if t.kind == "decimal" and t.precision is not None:
            return "decimal(p, s)"
        return t.kind

    assert {shape(f.type) for f in fields} == {
        "uuid",
        "str",
        "str(a..b)",
        "str(..b)",
        "int",
        "int(a..b)",
        "float",
        "float(a..b)",
        "bool",
        "date",
        "datetime",
        "decimal",
        "decimal(p, s)",
        "enum",
        "ref",
    }
    assert {f.required for f in fields} == {"yes", "no", "auto"}
    defaults = {f.default for f in fields}
    assert {None, "null", "uuid4()", "utcnow()", "active", "3", "false"} <= defaults
    assert any(not endpoint.auth for doc in docs for endpoint in doc.endpoints)


GOOD_TYPES = [
    ("UUID", FieldType("uuid")),
    ("`UUID`", FieldType("uuid")),
    ("str", FieldType("str")),
    ("str(1..200)", FieldType("str", low=1, high=200)),
    ("str(..2000)", FieldType("str", high=2000)),
    ("str(3..)", FieldType("str", low=3)),
    ("int", FieldType("int")),
    ("int(1..5)", FieldType("int", low=1, high=5)),
    ("int(-10..10)", FieldType("int", low=-10, high=10)),
    ("int(0..)", FieldType("int", low=0)),
    ("float", FieldType("float")),
    ("float(0..1.5)", FieldType("float", low=0, high=1.5)),
    ("float(-90.5..90.5)", FieldType("float", low=-90.5, high=90.5)),
    ("bool", FieldType("bool")),
    ("date", FieldType("date")),
    ("datetime", FieldType("datetime")),
    ("Decimal", FieldType("decimal")),
    ("Decimal(10, 2)", FieldType("decimal", precision=10, scale=2)),
    ("Decimal(12,4)", FieldType("decimal", precision=12, scale=4)),
    ("enum(active, archived)", FieldType("enum", choices=("active", "archived"))),
    ("enum(low,mid, high)", FieldType("enum", choices=("low", "mid", "high"))),
    ("enum(only)", FieldType("enum", choices=("only",))),
    ("ref(Project)", FieldType("ref", ref="Project")),
    ("ref(OrderLine)", FieldType("ref", ref="OrderLine")),
]


@pytest.mark.parametrize(("text", "expected"), GOOD_TYPES)
def test_parse_type_accepts_the_grammar(text: str, expected: FieldType) -> None:
    assert parse_type(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "uuid",
        "string",
        "String(200)",
        "integer",
        "text",
        "datetime(3)",
        "Date",
        "decimal",
        "Decimal()",
        "Decimal(10)",
        "str(1..200",
        "str(1-200)",
        "str(1.5..20)",
        "enum()",
        "enum(Active, Archived)",
        "enum(in progress, done)",
        "ref(project)",
        "ref()",
        "list[json]",  # list items are str, int, enum or date
        "UUID | None",
    ],
)
def test_parse_type_rejects_what_is_not_in_the_grammar(text: str) -> None:
    assert parse_type(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "enum(,)",  # an enum with no value
        "enum(a, a)",  # a value twice
        "int(5..1)",  # an empty range
        "str(200..1)",  # an empty length range
        "int(1.5..3)",  # an int bounded by fractions (str(1.5..3) is refused already)
        "str(-1..5)",  # a negative length
        "Decimal(2, 10)",  # scale larger than precision: no database accepts NUMERIC(2, 10)
    ],
)
def test_parse_type_rejects_impossible_constraints(text: str) -> None:
    assert parse_type(text) is None


def test_type_grammar_names_every_type_word() -> None:
    for word in ("UUID", "str", "int", "float", "bool", "date", "datetime", "Decimal", "enum("):
        assert word in TYPE_GRAMMAR
    assert "ref(Model)" in TYPE_GRAMMAR


@pytest.mark.parametrize(
    ("model", "table"),
    [
        ("Project", "projects"),
        ("Task", "tasks"),
        ("User", "users"),
        ("Category", "categories"),
        ("Box", "boxes"),
        ("Status", "statuses"),
        ("Match", "matches"),
        ("Wish", "wishes"),
        ("Day", "days"),
        ("Key", "keys"),
        ("OrderLine", "order_lines"),
        ("UserProfileEntry", "user_profile_entries"),
    ],
)
def test_table_name(model: str, table: str) -> None:
    assert table_name(model) == table


def test_a_model_may_refer_to_another_model_of_the_same_doc() -> None:
    # OrderLine.order_id is ref(Order), and Order is defined above it in the same doc;
    # only Product comes from elsewhere.
    doc = parse_doc(ORDERS_DOC, frozenset({"User", "Product"}))
    assert doc.models[1].field("order_id") is not None


def test_template_rows_are_accepted_unchanged(tmp_path: Path) -> None:
    """The seed template, placeholders filled in, parses with its own rows as they are."""
    text = edited(
        SEED_TEMPLATE.read_text(encoding="utf-8"),
        ("FEAT-XXX Design: [Feature Name]", "FEAT-009 Design: Widgets"),
        ("### [ModelName]", "### Widget"),
        ("| Request | CreateSchema |", "| Request | WidgetCreate |"),
        ("| Request | UpdateSchema |", "| Request | WidgetUpdate |"),
    )
    text = text.replace("[resource]", "widgets").replace("ResourceResponse", "WidgetResponse")
    path = tmp_path / "FEAT-009-widgets.md"
    path.write_text(text, encoding="utf-8")

    doc = parse_doc(path)

    assert field_rows(doc.models[0]) == [
        ("id", UUID, "auto", "uuid4()", False),
        ("field_name", FieldType("str"), "yes", None, False),
        ("created_at", DATETIME, "auto", "utcnow()", False),
        ("updated_at", DATETIME, "auto", "utcnow()", False),
    ]
    assert [e.key for e in doc.endpoints] == [
        "POST /api/v1/widgets",
        "GET /api/v1/widgets/{id}",
        "GET /api/v1/widgets",
        "PUT /api/v1/widgets/{id}",
        "DELETE /api/v1/widgets/{id}",
    ]
    assert doc.endpoints[4].responses == {204: "No content", 404: "NotFoundError"}
    assert len(doc.file_plan) == 6


def test_a_field_set_at_create_only_is_fixed(tmp_path: Path) -> None:
    """Required `yes, fixed` / `no, fixed`: required as `yes` / `no` are, and `fixed`."""
    text = edited(
        TASKS_DOC.read_text(encoding="utf-8"),
        ("| project_id | ref(Project) | yes |", "| project_id | ref(Project) | yes, fixed |"),
        ("| priority | int(1..5) | no |", "| priority | int(1..5) |  no ,fixed  |"),
    )
    path = tmp_path / TASKS_DOC.name
    path.write_text(text, encoding="utf-8")
    (model,) = parse_doc(path, APP_MODELS).models

    assert [(f.name, f.required, f.fixed) for f in model.fields if f.required != "auto"] == [
        ("project_id", "yes", True),
        ("title", "yes", False),
        ("done", "no", False),
        ("priority", "no", True),
        ("due_date", "no", False),
    ]
