"""`new_doc`: a new design doc from the template (the `featwright doc new` command).

The command writes into the repository's docs/features, so these tests call
`new_doc` directly with a temporary folder instead.
"""

from pathlib import Path

import pytest

from src.engine.doc import FieldType, parse_doc
from src.engine.newdoc import DocNameError, new_doc, singular

TEMPLATE_ENDPOINTS = [
    "POST {r}",
    "GET {r}/{{id}}",
    "GET {r}",
    "PUT {r}/{{id}}",
    "DELETE {r}/{{id}}",
]


def test_first_doc_is_feat_001(tmp_path: Path) -> None:
    path = new_doc("labels", tmp_path)
    assert path == tmp_path / "FEAT-001-labels.md"
    assert path.read_text(encoding="utf-8").startswith("# FEAT-001 Design: Labels\n")


def test_next_free_number_follows_the_highest(tmp_path: Path) -> None:
    (tmp_path / "FEAT-001-projects.md").write_text("x", encoding="utf-8")
    (tmp_path / "FEAT-007-tasks.md").write_text("x", encoding="utf-8")
    (tmp_path / "notes.md").write_text("x", encoding="utf-8")
    (tmp_path / "FEAT-900-old.txt").write_text("x", encoding="utf-8")

    assert new_doc("labels", tmp_path).name == "FEAT-008-labels.md"
    assert new_doc("categories", tmp_path).name == "FEAT-009-categories.md"


def test_numbers_from_the_real_docs_folder_layout(tmp_path: Path) -> None:
    for name in ("FEAT-001-projects.md", "FEAT-002-tasks.md"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    path = new_doc("labels", tmp_path)
    assert path.name == "FEAT-003-labels.md"
    assert path.read_text(encoding="utf-8").startswith("# FEAT-003 Design: Labels\n")


def test_creates_the_folder(tmp_path: Path) -> None:
    path = new_doc("labels", tmp_path / "docs" / "features")
    assert path == tmp_path / "docs" / "features" / "FEAT-001-labels.md"
    assert path.is_file()


@pytest.mark.parametrize(
    ("resource", "model", "module", "title"),
    [
        ("labels", "Label", "label", "Labels"),
        ("categories", "Category", "category", "Categories"),
        ("order_lines", "OrderLine", "order_line", "Order Lines"),
        ("boxes", "Box", "box", "Boxes"),
        ("addresses", "Address", "address", "Addresses"),
        ("matches", "Match", "match", "Matches"),
    ],
)
def test_names_filled_in(
    tmp_path: Path, resource: str, model: str, module: str, title: str
) -> None:
    text = new_doc(resource, tmp_path).read_text(encoding="utf-8")

    assert "$" not in text  # every placeholder is filled in
    assert text.startswith(f"# FEAT-001 Design: {title}\n")
    assert f"\n### {model}\n" in text
    assert f"under `/api/v1/{resource}`" in text
    assert f"every {module.replace('_', ' ')} belongs to the user" in text
    for line in (
        f"| Request | {model}Create |",
        f"| Request | {model}Update |",
        f"| Response 201 | {model}Response |",
        f"| Response 200 | PaginatedResponse[{model}Response] |",
        f"| 1 | src/models/{module}.py | CREATE |",
        f"| 3 | src/repositories/{module}_repo.py | CREATE |",
        f"| 4 | src/services/{module}_service.py | CREATE |",
        f"| 5 | src/api/v1/routes/{resource}.py | CREATE |",
        "| 6 | src/api/v1/router.py | MODIFY |",
    ):
        assert line in text


@pytest.mark.parametrize(
    ("resource", "model"),
    [("labels", "Label"), ("categories", "Category"), ("order_lines", "OrderLine")],
)
def test_the_new_doc_parses(tmp_path: Path, resource: str, model: str) -> None:
    doc = parse_doc(new_doc(resource, tmp_path), known_models=frozenset({"User"}))

    assert (doc.id, len(doc.models)) == ("FEAT-001", 1)
    (only,) = doc.models
    assert (only.name, only.table) == (model, resource)
    assert [(f.name, f.type, f.required, f.default) for f in only.fields] == [
        ("id", FieldType("uuid"), "auto", "uuid4()"),
        ("owner_id", FieldType("ref", ref="User"), "auto", "current user"),
        ("name", FieldType("str", low=1, high=200), "yes", None),
        ("created_at", FieldType("datetime"), "auto", "utcnow()"),
        ("updated_at", FieldType("datetime"), "auto", "utcnow()"),
    ]
    base = f"/api/v1/{resource}"
    assert [e.key for e in doc.endpoints] == [key.format(r=base) for key in TEMPLATE_ENDPOINTS]
    assert all(endpoint.auth for endpoint in doc.endpoints)
    assert [e.request for e in doc.endpoints] == [
        f"{model}Create",
        None,
        None,
        f"{model}Update",
        None,
    ]
    assert [sorted(e.responses) for e in doc.endpoints] == [
        [201, 400, 401],
        [200, 400, 401, 404],
        [200, 400, 401],
        [200, 400, 401, 404],
        [204, 400, 401, 404],
    ]
    assert [q.name for q in doc.endpoints[2].query] == ["page", "limit"]
    assert len(doc.file_plan) == 6


@pytest.mark.parametrize(
    "resource", ["Labels", "label", "1x", "", "labels-x", "../labels", "order lines", "_labels"]
)
def test_refuses_a_bad_name(tmp_path: Path, resource: str) -> None:
    with pytest.raises(DocNameError, match="expected a plural snake_case name such as 'labels'"):
        new_doc(resource, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_refuses_a_resource_that_has_a_doc(tmp_path: Path) -> None:
    existing = tmp_path / "FEAT-004-labels.md"
    existing.write_text("# my own labels doc\n", encoding="utf-8")

    with pytest.raises(DocNameError, match=r"FEAT-004-labels\.md already describes 'labels'"):
        new_doc("labels", tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["FEAT-004-labels.md"]
    assert existing.read_text(encoding="utf-8") == "# my own labels doc\n"


def test_never_overwrites(tmp_path: Path) -> None:
    first = new_doc("labels", tmp_path)
    first.write_text("# edited by hand\n", encoding="utf-8")

    with pytest.raises(DocNameError):
        new_doc("labels", tmp_path)

    assert first.read_text(encoding="utf-8") == "# edited by hand\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FEAT-001-labels.md"]


def test_a_resource_that_only_shares_a_prefix_is_another_resource(tmp_path: Path) -> None:
    (tmp_path / "FEAT-001-labels.md").write_text("x", encoding="utf-8")
    assert new_doc("label_groups", tmp_path).name == "FEAT-002-label_groups.md"
    assert new_doc("bels", tmp_path).name == "FEAT-003-bels.md"


@pytest.mark.parametrize(
    ("plural", "single"),
    [
        ("labels", "label"),
        ("categories", "category"),
        ("boxes", "box"),
        ("matches", "match"),
        ("wishes", "wish"),
        ("statuses", "status"),
        ("order_lines", "order_line"),
        ("courses", "course"),
        ("expenses", "expense"),
    ],
)
def test_singular(plural: str, single: str) -> None:
    assert singular(plural) == single
