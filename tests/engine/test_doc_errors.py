"""One test per kind of doc error: each is FEAT-001 with one piece of its text replaced.

Every problem is reported as `path:line: message`, with the line of what is wrong.
"""

import re
from pathlib import Path

import pytest

from src.engine.doc import MODEL_COLUMNS, InvalidDoc, ListSort, parse_doc
from tests.engine.conftest import APP_MODELS, ROOT, WriteDoc, problems_of

PROJECT_TABLE_HEADER = (
    "| Field | Type | Required | Default | Description |\n"
    "|-------|------|----------|---------|-------------|\n"
)
NAME_ROW = "| name | str(1..200) | yes | - |"
GET_ONE = "### GET /api/v1/projects/{id}\n| Aspect | Detail |\n|--------|--------|\n"
AUTH = "| Auth | Required (Bearer) |\n"
EXPECTED_LAYOUT = (
    "expected one of src/models/[a-z][a-z0-9_]*.py, src/schemas/[a-z][a-z0-9_]*.py, "
    "src/repositories/[a-z][a-z0-9_]*_repo.py, src/services/[a-z][a-z0-9_]*_service.py, "
    "src/api/v1/routes/[a-z][a-z0-9_]*.py, src/api/v1/router.py"
)


def test_the_unedited_doc_is_valid(write_doc: WriteDoc) -> None:
    assert parse_doc(write_doc(), APP_MODELS).id == "FEAT-001"


def test_wrong_title_line(write_doc: WriteDoc) -> None:
    path = write_doc(("# FEAT-001 Design: Projects", "# Projects"))
    assert problems_of(path) == [
        (1, "title is 'Projects'; expected '# FEAT-NNN Design: Name'"),
    ]


def test_title_without_a_three_digit_number(write_doc: WriteDoc) -> None:
    path = write_doc(("# FEAT-001 Design: Projects", "# FEAT-1 Design: Projects"))
    assert problems_of(path) == [
        (1, "title is 'FEAT-1 Design: Projects'; expected '# FEAT-NNN Design: Name'"),
    ]


@pytest.mark.parametrize(
    ("section", "renamed"),
    [
        ("Overview", "Summary"),
        ("API Endpoints", "Endpoints"),
        ("File Plan", "Files"),
    ],
)
def test_missing_section(write_doc: WriteDoc, section: str, renamed: str) -> None:
    path = write_doc((f"\n## {section}\n", f"\n## {renamed}\n"))
    assert problems_of(path) == [(1, f"no '## {section}' section; expected it, as in the template")]


def test_missing_data_models_section(write_doc: WriteDoc) -> None:
    path = write_doc(("\n## Data Models\n", "\n## Models\n"))
    problems = problems_of(path)
    # Without models no Project* schema exists, so the endpoints' schemas are unknown too.
    assert problems[0] == (1, "no '## Data Models' section; expected it, as in the template")
    assert (36, "Response 201 names unknown schema 'ProjectResponse'") in [
        (line, message.split(";")[0]) for line, message in problems
    ]


def test_model_table_with_a_missing_column(write_doc: WriteDoc) -> None:
    four_columns = (
        "| Field | Type | Required | Description |\n|-------|------|----------|-------------|\n"
    )
    path = write_doc((PROJECT_TABLE_HEADER, four_columns))
    problems = problems_of(path)
    assert (
        19,
        "table columns are ('Field', 'Type', 'Required', 'Description'); expected"
        " ('Field', 'Type', 'Required', 'Default', 'Description')",
    ) in problems
    # The model is dropped, so its schemas are unknown to the endpoints as well.
    assert (16, "no model; expected one '### ModelName' with its table") in problems


def test_model_without_a_table(write_doc: WriteDoc) -> None:
    path = write_doc((PROJECT_TABLE_HEADER, "Fields are listed below.\n\n- name\n\n"))
    problems = problems_of(path)
    assert (18, "'Project' has no table; expected columns " + str(MODEL_COLUMNS)) in problems
    assert (16, "no model; expected one '### ModelName' with its table") in problems


def test_unknown_type(write_doc: WriteDoc) -> None:
    path = write_doc((NAME_ROW, "| name | string(1..200) | yes | - |"))
    ((line, message),) = problems_of(path)
    assert line == 23
    assert message.startswith("unknown type 'string(1..200)'; expected one of: UUID, str, ")
    assert message.endswith(
        "refs(Model)(MIN..MAX), str(MIN..MAX) matching REGEX, list[T], list[T](MIN..MAX) (T one"
        " of str(..), int(..), enum(...), date), object(Name), json"
    )


def test_model_without_id(write_doc: WriteDoc) -> None:
    path = write_doc(("| id | UUID | auto | uuid4() | Primary key |\n", ""))
    assert problems_of(path) == [
        (18, "model Project has no 'id' row; expected '| id | UUID | auto | uuid4() |'"),
    ]


def test_model_without_timestamps(write_doc: WriteDoc) -> None:
    path = write_doc(
        ("| created_at | datetime | auto | utcnow() |", "| born | date | no | null |"),
        ("| updated_at | datetime | auto | utcnow() |", "| touched | date | no | null |"),
    )
    assert problems_of(path) == [
        (
            18,
            "model Project has no 'created_at' row;"
            " expected '| created_at | datetime | auto | utcnow() |'",
        ),
        (
            18,
            "model Project has no 'updated_at' row;"
            " expected '| updated_at | datetime | auto | utcnow() |'",
        ),
    ]


@pytest.mark.parametrize(
    "row",
    [
        "| id | int | auto | uuid4() |",
        "| id | UUID | yes | - |",
        "| id | UUID | auto | null |",
    ],
)
def test_id_row_not_as_the_template(write_doc: WriteDoc, row: str) -> None:
    path = write_doc(("| id | UUID | auto | uuid4() |", row))
    ((line, message),) = problems_of(path)
    assert line == 21
    assert message == (
        "Project.id is not as the template writes it; expected '| id | UUID | auto | uuid4() |'"
    )


def test_created_at_row_not_as_the_template(write_doc: WriteDoc) -> None:
    path = write_doc(("| created_at | datetime | auto |", "| created_at | date | auto |"))
    ((line, message),) = problems_of(path)
    assert line == 26
    assert message.startswith("Project.created_at is not as the template writes it; expected")


def test_required_value_not_yes_no_or_auto(write_doc: WriteDoc) -> None:
    path = write_doc((NAME_ROW, "| name | str(1..200) | true | - |"))
    expected = "expected one of yes, no, auto, 'yes, fixed', 'no, fixed' (set at create only)"
    assert problems_of(path) == [(23, f"Required is 'true'; {expected}")]


@pytest.mark.parametrize("written", ["yes, frozen", "maybe, fixed", "yes, fixed, fixed"])
def test_required_with_an_unknown_suffix(write_doc: WriteDoc, written: str) -> None:
    path = write_doc((NAME_ROW, f"| name | str(1..200) | {written} | - |"))
    ((line, message),) = problems_of(path)
    assert (line, message.split(";")[0]) == (23, f"Required is {written!r}")


def test_an_auto_field_cannot_be_fixed(write_doc: WriteDoc) -> None:
    path = write_doc(("| owner_id | ref(User) | auto |", "| owner_id | ref(User) | auto, fixed |"))
    assert problems_of(path) == [
        (
            22,
            "owner_id is 'auto, fixed', but an auto field is set by the system and never sent by a"
            " client; expected auto, or yes, fixed or no, fixed for a field the client sets at"
            " create only",
        )
    ]


def test_required_field_with_a_default(write_doc: WriteDoc) -> None:
    path = write_doc((NAME_ROW, "| name | str(1..200) | yes | Untitled |"))
    assert problems_of(path) == [
        (23, "name is required but has default 'Untitled'; expected '-'"),
    ]


def test_field_name_not_snake_case(write_doc: WriteDoc) -> None:
    path = write_doc((NAME_ROW, "| Name | str(1..200) | yes | - |"))
    assert problems_of(path) == [(23, "field name 'Name'; expected snake_case")]


def test_duplicate_field(write_doc: WriteDoc) -> None:
    path = write_doc(
        ("| status |", "| name | str(..50) | no | null | Again |\n| status |"),
    )
    # Reported at the model's heading, naming the field.
    assert problems_of(path) == [(18, "model Project lists field 'name' twice; expected it once")]


def test_model_name_not_pascal_case(write_doc: WriteDoc) -> None:
    path = write_doc(("### Project\n", "### project_model\n"))
    problems = problems_of(path)
    assert problems[0] == (16, "no model; expected one '### ModelName' with its table")
    assert problems[1] == (18, "model name 'project_model'; expected a PascalCase name")


def test_two_models_with_one_table_name(write_doc: WriteDoc) -> None:
    # Lines 18-27 (the Project model) again, after line 27: the copy's heading is line 29.
    text = Path(write_doc()).read_text(encoding="utf-8")
    model = text[text.index("### Project\n") : text.index("\n## API Endpoints")]
    path = write_doc(("\n## API Endpoints", "\n" + model + "\n## API Endpoints"))
    assert problems_of(path) == [
        (
            29,
            "models Project and Project share the table name 'projects';"
            " expected one table per model",
        ),
    ]


def test_two_models_whose_names_give_one_table(write_doc: WriteDoc) -> None:
    text = Path(write_doc()).read_text(encoding="utf-8")
    model = text[text.index("### Project\n") : text.index("\n## API Endpoints")]
    box = model.replace("### Project", "### Box")
    boxe = model.replace("### Project", "### Boxe")
    path = write_doc(("\n## API Endpoints", "\n" + box + "\n" + boxe + "\n## API Endpoints"))
    assert problems_of(path) == [
        (40, "models Box and Boxe share the table name 'boxes'; expected one table per model"),
    ]


def test_ref_to_an_unknown_model(write_doc: WriteDoc) -> None:
    path = write_doc(("| owner_id | ref(User) |", "| owner_id | ref(Team) |"))
    assert problems_of(path, frozenset({"User", "Task"})) == [
        (
            22,
            "Project.owner_id refers to unknown model 'Team'; expected one of Project, Task, User",
        ),
    ]


def test_ref_to_a_model_that_is_not_known(write_doc: WriteDoc) -> None:
    # The real doc refers to User: without User among the known models, that is a problem.
    ((line, message),) = problems_of(write_doc(), frozenset())
    assert line == 22
    assert message.startswith("Project.owner_id refers to unknown model 'User'")


@pytest.mark.parametrize(
    "heading",
    ["FETCH /api/v1/projects/{id}", "DELETE api/v1/projects/{id}", "delete /api/v1/projects/{id}"],
)
def test_bad_endpoint_heading(write_doc: WriteDoc, heading: str) -> None:
    path = write_doc(("### DELETE /api/v1/projects/{id}", f"### {heading}"))
    assert problems_of(path) == [
        (
            68,
            f"endpoint heading {heading!r}; expected 'METHOD /path' with METHOD one of"
            " GET, POST, PUT, PATCH, DELETE",
        ),
    ]


def test_endpoint_without_auth_row(write_doc: WriteDoc) -> None:
    path = write_doc((GET_ONE + AUTH, GET_ONE))
    assert problems_of(path) == [
        (41, "GET /api/v1/projects/{id}: no 'Auth' row; expected Required or None"),
    ]


def test_endpoint_without_a_table(write_doc: WriteDoc) -> None:
    path = write_doc((GET_ONE, "### GET /api/v1/projects/{id}\nAspect: detail\n\n"))
    ((line, message),) = problems_of(path)[:1]
    assert line == 40
    assert message == (
        "'GET /api/v1/projects/{id}' has no table; expected columns ('Aspect', 'Detail')"
    )


def test_request_names_an_unknown_schema(write_doc: WriteDoc) -> None:
    path = write_doc(("| Request | ProjectUpdate (", "| Request | ProjectPatch ("))
    ((line, message),) = problems_of(path)
    assert line == 62
    assert message.startswith("Request names unknown schema 'ProjectPatch'; expected one of ")
    assert "ProjectCreate, ProjectResponse, ProjectUpdate" in message


def test_response_names_an_unknown_schema(write_doc: WriteDoc) -> None:
    path = write_doc(("| Response 201 | ProjectResponse |", "| Response 201 | Project |"))
    ((line, message),) = problems_of(path)
    assert line == 36
    assert message.startswith("Response 201 names unknown schema 'Project'; expected one of ")
    assert message.endswith("or 'No content'")


def test_response_of_another_models_schema(write_doc: WriteDoc) -> None:
    path = write_doc(("| Response 200 | ProjectResponse |", "| Response 200 | TaskResponse |"))
    ((line, message),) = problems_of(path)
    assert line == 44
    assert message.startswith("Response 200 names unknown schema 'TaskResponse'")


@pytest.mark.parametrize("aspect", ["Response: 401", "Response 40", "Response 401 Unauthorized"])
def test_response_row_not_response_nnn(write_doc: WriteDoc, aspect: str) -> None:
    path = write_doc(
        (
            "| Response 401 | UnauthorizedError (no token, or an invalid or expired token) |",
            f"| {aspect} | UnauthorizedError |",
        )
    )
    expected = "; expected Auth, Request, Query Params, When, Sets or Response NNN"
    assert problems_of(path) == [(38, f"unknown row {aspect!r}{expected}")]


def test_endpoint_without_2xx(write_doc: WriteDoc) -> None:
    path = write_doc(("| Response 204 | No content |\n", ""))
    assert problems_of(path) == [
        (69, "DELETE /api/v1/projects/{id}: no 2xx response; expected e.g. 'Response 200'"),
    ]


def test_duplicate_endpoint(write_doc: WriteDoc) -> None:
    # The query string and a trailing slash do not make another endpoint.
    path = write_doc(("### GET /api/v1/projects?page=1&limit=20", "### GET /api/v1/projects/{id}/"))
    assert problems_of(path) == [
        (49, "endpoint GET /api/v1/projects/{id} is described twice; expected it once")
    ]


@pytest.mark.parametrize(
    ("planned", "bad"),
    [
        ("src/models/project.py", "lib/foo.py"),
        ("src/models/project.py", "src/models/../x.py"),
        ("src/models/project.py", "src/models/Project.py"),
        ("src/models/project.py", "/src/models/project.py"),
        ("src/repositories/project_repo.py", "src/repositories/project.py"),
        ("src/services/project_service.py", "src/services/sub/project_service.py"),
    ],
)
def test_file_plan_path_outside_the_layout(write_doc: WriteDoc, planned: str, bad: str) -> None:
    path = write_doc((f"| {planned} |", f"| {bad} |"))
    ((line, message),) = problems_of(path)
    assert (
        line
        == {"src/models": 81, "src/repositories": 83, "src/services": 84}[planned.rsplit("/", 1)[0]]
    )
    assert message == f"File Plan path {bad!r} is outside the layout; {EXPECTED_LAYOUT}"


@pytest.mark.parametrize("action", ["UPDATE", "create", "DELETE", ""])
def test_file_plan_bad_action(write_doc: WriteDoc, action: str) -> None:
    path = write_doc(("| src/api/v1/router.py | MODIFY |", f"| src/api/v1/router.py | {action} |"))
    assert problems_of(path) == [(86, f"File Plan action {action!r}; expected CREATE or MODIFY")]


def test_file_plan_without_the_template_columns(write_doc: WriteDoc) -> None:
    path = write_doc(("| # | File | Action | Description |", "| # | Path | Action | Description |"))
    assert problems_of(path) == [
        (
            79,
            "table columns are ('#', 'Path', 'Action', 'Description');"
            " expected ('#', 'File', 'Action', 'Description')",
        )
    ]


SEVERAL = (
    ("| src/api/v1/router.py | MODIFY |", "| src/api/v1/router.py | UPDATE |"),  # line 86
    ("# FEAT-001 Design: Projects", "# Projects"),  # line 1
    ("### DELETE /api/v1/projects/{id}", "### FETCH /api/v1/projects/{id}"),  # line 68
    (NAME_ROW, "| name | string | maybe | - |"),  # line 23, twice
    ("| owner_id | ref(User) |", "| owner_id | ref(Team) |"),  # line 22
    ("| Response 201 | ProjectResponse |", "| Response 201 | Project |"),  # line 36
    ("| 1 | src/models/project.py |", "| 1 | lib/foo.py |"),  # line 81
)


def test_every_problem_is_reported_at_once_sorted_by_line(write_doc: WriteDoc) -> None:
    path = write_doc(*SEVERAL)

    with pytest.raises(InvalidDoc) as error:
        parse_doc(path, APP_MODELS)

    problems = error.value.problems
    assert [(p.line, p.message.split(" ", 2)[:2]) for p in problems] == [
        (1, ["title", "is"]),
        (22, ["Project.owner_id", "refers"]),
        (23, ["unknown", "type"]),
        (23, ["Required", "is"]),
        (36, ["Response", "201"]),
        (68, ["endpoint", "heading"]),
        (81, ["File", "Plan"]),
        (86, ["File", "Plan"]),
    ]
    assert all(p.path == path for p in problems)
    lines = str(error.value).splitlines()
    assert len(lines) == len(problems)
    for text, problem in zip(lines, problems, strict=True):
        assert text == f"{path}:{problem.line}: {problem.message}"
        assert str(problem) == text


def test_every_problem_says_what_was_expected(write_doc: WriteDoc) -> None:
    """The requirement's format: `path:line: what is wrong; what was expected`."""
    path = write_doc(
        *SEVERAL,
        ("| status |", "| description | str | no | null | Again |\n| status |"),  # twice
        ("### GET /api/v1/projects?page=1&limit=20", "### GET /api/v1/projects/{id}"),  # twice
        ("\n## Overview\n", "\n## Summary\n"),  # missing section
        ("| id | UUID | auto | uuid4() |", "| id | int | auto | uuid4() |"),  # id not as template
    )
    problems = problems_of(path)
    assert len(problems) == 12
    assert [m for _, m in problems if not re.search(r"; (expected|write) .", m)] == []


def test_unknown_aspect_row_is_reported(write_doc: WriteDoc) -> None:
    """A misspelt row is a problem, not silently dropped (here the 401 would vanish)."""
    path = write_doc(
        (
            "| Response 401 | UnauthorizedError (no token, or an invalid or expired token) |",
            "| Reponse 401 | UnauthorizedError |",
        )
    )
    problems = problems_of(path)
    assert [line for line, _ in problems] == [38]
    assert "'Reponse 401'" in problems[0][1]


def test_auth_value_other_than_required_none_or_public_is_reported(write_doc: WriteDoc) -> None:
    """`Auth | Anyone` must not silently mean Required (nor `Auth | No`)."""
    path = write_doc((GET_ONE + AUTH, GET_ONE + "| Auth | Anyone |\n"))
    problems = problems_of(path)
    assert [line for line, _ in problems] == [43]
    assert "'Anyone'" in problems[0][1]


STATUS_ROW = "| status | enum(active, archived) |"
LIST_QUERY = "limit (int, default 20, 1..100) |"


@pytest.mark.parametrize(
    ("type_text", "message"),
    [
        ("enum(Active, archived)", "enum values must be lower-case; write enum(active, archived)"),
        (
            "enum(Active, active)",
            "enum values must be lower-case, and then some are the same; write enum(active)",
        ),
        (
            "enum(in progress, done)",
            "enum values are snake_case words that start with a letter;"
            " write enum(in_progress, done)",
        ),
        ("enum(active, active)", "enum lists 'active' twice; write enum(active)"),
        ("enum(active, )", "enum has an empty value; write enum(active)"),
    ],
    ids=["upper-case", "upper-case twice", "spaces", "twice", "empty value"],
)
def test_an_enum_whose_values_cannot_be_generated_says_what_to_write(
    write_doc: WriteDoc, type_text: str, message: str
) -> None:
    """Not "unknown type": the type is known, its values are not usable as written."""
    path = write_doc((STATUS_ROW, f"| status | {type_text} |"))
    assert problems_of(path) == [(25, message)]


@pytest.mark.parametrize(
    ("type_text", "message"),
    [
        (
            "int(5..1)",
            "int(5..1): the range is empty (its lower bound is above its upper one)"
            "; write int(1..5)",
        ),
        ("int(1.5..3)", "int(1.5..3): the bounds of int are whole numbers; write e.g. int(2..3)"),
        ("str(..0)", "str(..0): no text is at most 0 characters long; write e.g. str(..1)"),
        ("str(-1..5)", "str(-1..5): a length is never negative; write e.g. str(..5)"),
        (
            "Decimal(2, 10)",
            "Decimal(2, 10): the scale (digits after the point) is larger than the precision"
            " (all digits); write Decimal(10, 2)",
        ),
        (
            "Decimal(0, 0)",
            "Decimal(0, 0): a precision is 1 to 1000 digits (PostgreSQL's NUMERIC); write e.g."
            " Decimal(12, 2)",
        ),
    ],
    ids=["empty range", "fraction", "no length", "negative length", "scale", "precision"],
)
def test_a_type_no_value_or_column_can_meet_says_what_to_write(
    write_doc: WriteDoc, type_text: str, message: str
) -> None:
    path = write_doc((NAME_ROW, f"| name | {type_text} | yes | - |"))
    assert problems_of(path) == [(23, message)]


LIST_CHOICES = (
    "page, limit, cursor, sort, q, a field: name, description, status, or a field with an"
    " operator (`<field>__<op>`, op one of gte, gt, lte, lt, ne, in, isnull, contains)"
)


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ("statu", f"expected 'status' (or {LIST_CHOICES})"),
        ("colour", f"expected {LIST_CHOICES}"),
        ("created_at", f"expected {LIST_CHOICES}"),
    ],
    ids=["misspelt", "no such field", "system field"],
)
def test_a_list_query_parameter_that_names_no_field_is_refused(
    write_doc: WriteDoc, param: str, expected: str
) -> None:
    """`add` would generate no filter for it, and the list would ignore it silently."""
    path = write_doc((LIST_QUERY, f"limit (int, default 20, 1..100), {param} (str) |"))
    assert problems_of(path) == [
        (
            53,
            f"query parameter {param!r} names no field of Project that a client sets, so no"
            f" list would filter by it; {expected}",
        )
    ]


def test_list_query_parameters_that_name_fields_and_the_cursor_are_accepted(
    write_doc: WriteDoc,
) -> None:
    path = write_doc((LIST_QUERY, "limit (int, default 20, 1..100), cursor, status (enum) |"))
    listing = parse_doc(path, APP_MODELS).endpoints[2]
    assert [param.name for param in listing.query] == ["page", "limit", "cursor", "status"]


def test_a_required_reference_back_to_its_own_model_is_refused(write_doc: WriteDoc) -> None:
    """No first row could ever be created: every row would need one that exists already."""
    path = write_doc((NAME_ROW, "| parent_id | ref(Project) | yes | - | The parent |\n" + NAME_ROW))
    assert problems_of(path) == [
        (
            23,
            "Project.parent_id -> Project: required references lead back to Project, so no"
            " first row could be created; write Required no for Project.parent_id",
        )
    ]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "| done | bool | no | yes |",
            "done: default 'yes' is not a value of bool; write true or false",
        ),
        (
            "| stars | int(1..5) | no | 9 |",
            "stars: default 9 is outside int(1..5); write one within it, or -",
        ),
        (
            "| kind | enum(a, b) | no | c |",
            "kind: default 'c' is not a value of enum(a, b); write one of a, b",
        ),
        (
            "| day | date | no | 31.01.2026 |",
            "day: default '31.01.2026' is not a value of date; write a day as YYYY-MM-DD,"
            " such as 2026-01-31",
        ),
        (
            "| cap | Decimal(4, 2) | no | 100.5 |",
            "cap: default '100.5' is not a value of Decimal(4, 2); write a decimal string such as"
            ' "12.50", with at most 2 digits before the point and 2 after',
        ),
        (
            "| code | str(..3) | no | misc |",
            "code: default 'misc' is too long for str(..3); write one that fits, or -",
        ),
        (
            "| seen_at | datetime | no | 2026-01-01T00:00:00Z |",
            "seen_at: default '2026-01-01T00:00:00Z' is not a value of datetime this generator"
            " can store; write utcnow() (the time of the insert) or -",
        ),
    ],
    ids=["bool", "int range", "enum", "date", "decimal", "str length", "datetime"],
)
def test_a_default_that_is_no_value_of_its_type_says_what_to_write(
    write_doc: WriteDoc, row: str, message: str
) -> None:
    """It would become code (`default=yes`) and a column default the database refuses."""
    path = write_doc((NAME_ROW, row + " - |\n" + NAME_ROW))
    assert problems_of(path) == [(23, message)]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "sort (name, nope)",
            "sort names 'nope': no field of Project a client sets (or created_at, updated_at)",
        ),
        ("sort (name, name)", "sort lists 'name' twice; expected each field once"),
        (
            "sort (description)",
            "sort names 'description': a sort key travels in the cursor, so its text is at most"
            " 200 characters; expected str(..200) or shorter",
        ),
        (
            "sort (name; default -status)",
            "sort's default '-status' is not made of the listed fields; expected '; default' and"
            " comma-separated keys among name, created_at, each once, with - for descending",
        ),
        (
            "q (search status)",
            "q searches 'status', which is no str field of Project; expected name, description",
        ),
        (
            "q (name)",
            "q (name): expected 'q (search field, ...)', naming the text fields it searches",
        ),
        (
            "status__gte (enum)",
            "status__gte: gte compares int, float, decimal, date, datetime fields, and status is"
            " enum; expected one of status__ne, status__in, status__isnull",
        ),
        (
            "name__isnull (bool)",
            "name__isnull: name is never null (Required yes, or a default), so every row would"
            " match one side; expected isnull on a nullable field",
        ),
        (
            "name__contains (str), name__nope (str)",
            "query parameter 'name__nope' names no field of Project that a client sets, so no list"
            f" would filter by it; expected {LIST_CHOICES}",
        ),
    ],
    ids=[
        "unknown key",
        "key twice",
        "unbounded text",
        "default not listed",
        "search not text",
        "search without the word",
        "operator of another kind",
        "isnull never null",
        "unknown operator",
    ],
)
def test_a_list_query_no_list_could_run_is_refused_with_its_line(
    write_doc: WriteDoc, query: str, message: str
) -> None:
    """`sort`, `q` and `<field>__<op>` name fields of a kind they can order, search or compare."""
    path = write_doc((LIST_QUERY, f"limit (int, default 20, 1..100), {query} |"))
    assert problems_of(path) == [(53, message)]


def test_every_list_query_construct_parses(write_doc: WriteDoc) -> None:
    query = (
        "sort (name, status, created_at; default -status,name), description__isnull (bool),"
        " status__in (enum), status__ne (enum), name__contains (str), created_at__gte"
        " (datetime), q (search name, description)"
    )
    path = write_doc((LIST_QUERY, f"limit (int, default 20, 1..100), {query} |"))
    listing = next(
        e
        for e in parse_doc(path, APP_MODELS).endpoints
        if e.key.endswith("projects") and e.method == "GET"
    )
    assert listing.sort is not None
    assert (listing.sort.keys, listing.sort.default) == (
        ("name", "status", "created_at"),
        "-status,name",
    )
    assert listing.search == ("name", "description")
    # `?sort` takes the default's keys too: the default is a value of its own parameter
    assert ListSort.of("name; default -created_at").taken == ("name", "created_at")
    assert ListSort.of("name, status").taken == ("name", "status", "created_at")


def test_two_lists_of_one_model_that_search_other_fields_are_refused(tmp_path: Path) -> None:
    """A model names the fields `q` searches once (`search_fields`): its flat list and a list
    under a parent search the same ones."""
    example = (ROOT / "docs/examples/FEAT-004-errands.md").read_text(encoding="utf-8")
    nested = (
        "### GET /api/v1/errands/{parent_id}/errands?page=1&limit=20\n"
        "| Aspect | Detail |\n|--------|--------|\n| Auth | Required |\n"
        "| Query Params | page (int, default 1), limit (int, default 20), q (search title) |\n"
        "| Response 200 | PaginatedResponse[ErrandResponse] |\n"
        "| Response 404 | NotFoundError |\n\n"
    )
    text = example.replace(
        "### PUT /api/v1/errands/{id}\n", nested + "### PUT /api/v1/errands/{id}\n"
    )
    path = tmp_path / "FEAT-004-errands.md"
    path.write_text(text, encoding="utf-8")
    line = text.splitlines().index(nested.splitlines()[0]) + 1

    assert problems_of(path) == [
        (
            line,
            "GET /api/v1/errands/{parent_id}/errands searches title, but GET /api/v1/errands"
            " (line 77) searches title, notes; expected the same q (search ...) on every list"
            " of Errand",
        )
    ]
