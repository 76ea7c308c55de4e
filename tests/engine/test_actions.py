"""Actions (`POST /api/v1/cards/{id}/close` with `When`, `Sets`, `Request | fields ...`) and
derived fields (Required auto, Default null): parsed and refused with the line, by `add` and
`check` with exit 2 and nothing written; compared by `check` both ways; added and removed by
`add` on a changed doc; one statement per action on PostgreSQL (two for a refused one).

The example doc (docs/examples/FEAT-005-tracker.md) is added, tested on both backends (with
its fields optional, then required) and fuzzed in test_example_doc.py."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from src.engine.doc import parse_doc
from tests.engine.conftest import (
    APP_MODELS,
    ROOT,
    assert_lint_clean,
    check_finds,
    copy_project,
    edited,
    featwright,
    problems_of,
    run_generated_tests,
    snapshot,
)

EXAMPLE = ROOT / "docs/examples/FEAT-005-tracker.md"
CLOSE_RULE = "| When | state = open |"
CLOSE_SETS = "| Sets | state = closed, closed_at = now(), closed_by = current user |"
REOPEN_409 = "| Response 409 | ConflictError (the card is not closed) |"
ARCHIVE = """
### POST /api/v1/cards/{id}/archive
| Aspect | Detail |
|--------|--------|
| Auth | Required |
| When | archived_at is null |
| Sets | archived_at = now(), pinned = false |
| Response 200 | CardResponse |
| Response 401 | UnauthorizedError |
| Response 404 | NotFoundError |
| Response 409 | ConflictError |
"""
ARCHIVED_AT = "| archived_at | datetime | auto | null | When `archive` ran |\n"
STAR = """
### POST /api/v1/cards/{id}/star
| Aspect | Detail |
|--------|--------|
| Auth | Required |
| Sets | starred_by += current user |
| Response 200 | CardResponse |
| Response 401 | UnauthorizedError |
| Response 404 | NotFoundError |
"""
STARRED = (
    "| starred_by | refs(User) | auto | - | Who starred it |\n"
    "| star_count | int | auto | count(starred_by) | How many starred it |\n"
    "| starred | bool | auto | current user in starred_by | Whether the caller did |\n"
    "| code | str | auto | slug(title) | The card's slug |\n"
)


def _tracker(directory: Path, *edits: tuple[str, str]) -> Path:
    doc = directory / "FEAT-005-tracker.md"
    doc.write_text(edited(EXAMPLE.read_text(encoding="utf-8"), *edits), encoding="utf-8")
    return doc


def _line(doc: Path, text: str) -> int:
    lines = doc.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.startswith(text))


# -------------------------------------------------------------------------- parsing


def test_every_action_row_parses_in_the_words_of_the_service() -> None:
    doc = parse_doc(EXAMPLE, APP_MODELS)
    actions = {
        e.action.verb: (e.request, e.action.texts)
        for e in doc.endpoints
        if e.action and not e.action.joins_or_leaves
    }
    joins = {
        e.key: e.action.texts["sets"]
        for e in doc.endpoints
        if e.action and e.action.joins_or_leaves
    }

    assert actions == {
        "close": (
            None,
            {
                "sets": ['state = "closed"', "closed_at = now()", "closed_by = current user"],
                "when": ['state = "open"'],
                "takes": [],
            },
        ),
        "reopen": (
            None,
            {
                "sets": ['state = "open"', "closed_at = null"],
                "when": ['state = "closed"', "closed_at is not null"],
                "takes": [],
            },
        ),
        "move": (
            "CardMoveRequest",
            {"sets": [], "when": ['state != "closed"'], "takes": ["board_id", "priority"]},
        ),
        "pin": (None, {"sets": ["pinned = true"], "when": [], "takes": []}),
    }
    assert joins == {
        "POST /api/v1/boards/{slug}/follow": ["followed_by += current user"],
        "DELETE /api/v1/boards/{slug}/follow": ["followed_by -= current user"],
        "POST /api/v1/cards/{id}/watch": ["watched_by += current user"],
        "POST /api/v1/cards/{id}/unwatch": ["watched_by -= current user"],
    }
    board = doc.models[0]
    following, followers = board.field("following"), board.field("follower_count")
    assert following is not None
    assert followers is not None
    assert (following.viewed, following.stored) == ("followed_by", False)
    assert followers.counted == (None, "followed_by")
    card = doc.models[1]
    closed_at = card.field("closed_at")
    assert closed_at is not None
    assert (closed_at.derived, closed_at.nullable) == (True, True)
    derived = ["number", "closed_by", "closed_at", "comment_count", "watched_by"]
    assert [f.name for f in card.fields if f.derived] == derived
    slug, number = board.field("slug"), doc.models[2].field("number")
    assert slug is not None
    assert number is not None
    assert (slug.slugged, slug.unique, slug.stored) == ("name", ("owner_id",), True)
    assert (number.numbered, number.unique) == ("card_id", ("card_id",))
    count = card.field("comment_count")
    assert count is not None
    assert (count.counted, count.stored) == (("Comment", "card_id"), False)


REFUSED = {
    "unknown field in Sets": (
        (CLOSE_SETS, "| Sets | stat = closed, closed_at = now() |"),
        "| Sets | stat",
        "Sets 'stat = closed': 'stat' is no field of Card; expected 'state'",
    ),
    "value of the wrong type": (
        ("| Sets | pinned = true |", "| Sets | pinned = yes |"),
        "| Sets | pinned = yes",
        "expected true or false for pinned (bool)",
    ),
    "enum value it does not have": (
        (CLOSE_SETS, "| Sets | state = archived, closed_at = now() |"),
        "| Sets | state = archived",
        "expected one of open, closed for state (enum)",
    ),
    "number out of its range": (
        ("| Sets | pinned = true |", "| Sets | pinned = true, priority = 9 |"),
        "| Sets | pinned = true, priority = 9",
        "9 is outside priority's range",
    ),
    "field the system sets": (
        (CLOSE_SETS, "| Sets | state = closed, updated_at = now() |"),
        "| Sets | state = closed, updated_at",
        "updated_at is set by the system on every row",
    ),
    "null to a field never null": (
        ("| Sets | pinned = true |", "| Sets | pinned = null |"),
        "| Sets | pinned = null",
        "pinned is never null",
    ),
    "current user on a field that is no ref(User)": (
        (CLOSE_SETS, "| Sets | state = closed, pinned = current user |"),
        "| Sets | state = closed, pinned",
        "current user is a value of a ref(User) field; expected a literal",
    ),
    "unknown field in When": (
        (CLOSE_RULE, "| When | stat = open |"),
        "| When | stat = open",
        "When 'stat = open': 'stat' is no field of Card; expected 'state'",
    ),
    "a comparison with null": (
        (CLOSE_RULE, "| When | closed_at = null |"),
        "| When | closed_at = null",
        "a datetime is compared with null only: 'closed_at is null' or 'is not null'",
    ),
    "is null on a field never null": (
        (CLOSE_RULE, "| When | priority is null |"),
        "| When | priority is null",
        "priority is never null, so the rule would always fail",
    ),
    "a derived field in the body": (
        ("| Request | fields board_id, priority |", "| Request | fields board_id, closed_at |"),
        "| Request | fields board_id, closed_at",
        "Request fields 'closed_at': closed_at is set by the system",
    ),
    "no 409 for an action with a rule": (
        (REOPEN_409 + "\n", ""),
        "### POST /api/v1/cards/{id}/reopen",
        "action reopen answers 409 ConflictError; expected '| Response 409 | ConflictError |'",
    ),
    "an action that changes nothing": (
        ("| Sets | pinned = true |", "| When | pinned = false |"),
        "### POST /api/v1/cards/{id}/pin",
        "action 'pin' changes nothing",
    ),
    "a count of a field that is no reference to the row": (
        ("count(Comment.card_id)", "count(Comment.body)"),
        "| comment_count |",
        "Card.comment_count is count(Comment.body), which names no ref(Card) field of a model"
        " of this doc; expected count(Comment.card_id)",
    ),
    "a count that is not an int": (
        ("| comment_count | int |", "| comment_count | float |"),
        "| comment_count |",
        "Card.comment_count is count(Comment.card_id), a number of rows; expected its Type int",
    ),
    "a derived field that is not null": (
        (
            "| closed_at | datetime | auto | null |",
            "| closed_at | datetime | auto | utcnow() |",
        ),
        "| closed_at |",
        "Card.closed_at is Required auto with Default utcnow(); a derived field's Default is null",
    ),
    "a join of something other than the caller": (
        ("| Sets | watched_by += current user |", "| Sets | watched_by += 3 |"),
        "| Sets | watched_by += 3",
        "+= takes 'current user' (the caller joins or leaves)",
    ),
    "a join on a field that is no refs(User)": (
        ("| Sets | pinned = true |", "| Sets | pinned += current user |"),
        "| Sets | pinned += current user",
        "+= adds or removes the caller on a refs(User) field with Required auto; pinned is bool",
    ),
    "a set of users assigned": (
        ("| Sets | watched_by += current user |", "| Sets | watched_by = null |"),
        "| Sets | watched_by = null",
        "watched_by is a set of users; expected 'watched_by += current user' or '-='",
    ),
    "a join beside another change": (
        (
            "| Sets | watched_by += current user |",
            "| Sets | watched_by += current user, pinned = true |",
        ),
        "| Sets | watched_by += current user, pinned",
        "a join or leave (+= or -= current user) is the action's only change",
    ),
    "a DELETE that is no leave": (
        ("| Sets | followed_by -= current user |", '| Sets | name = "x" |'),
        '| Sets | name = "x"',
        "a DELETE action undoes a join; expected 'field -= current user'",
    ),
    "a refs(User) a client would send": (
        ("| watched_by | refs(User) | auto |", "| watched_by | refs(User) | no |"),
        "| watched_by |",
        "watched_by is refs(User) with Required no; expected auto",
    ),
    "a viewer flag that is no bool": (
        ("| following | bool |", "| following | int |"),
        "| following |",
        "Board.following is current user in followed_by; expected a bool and a refs(User) field",
    ),
    "a viewer flag of no set of users": (
        ("current user in followed_by", "current user in name"),
        "| following |",
        "Board.following is current user in name; expected a bool and a refs(User) field of"
        " Board (followed_by)",
    ),
    "a viewer flag of a single reference": (
        ("current user in followed_by", "current user in owner_id"),
        "| following |",
        "Board.following is current user in owner_id; expected a bool and a refs(User) field",
    ),
    "a slug of no text": (
        ("slug(name)", "slug(follower_count)"),
        "| slug |",
        "Board.slug is slug(follower_count); expected Type str (no bounds: the slug's own) made"
        " from a str field of Board (name)",
    ),
    "a number counted per a ref that can change": (
        ("next(card_id)", "next(body)"),
        "| number | int | auto | next(body)",
        "Comment.number is next(body); expected Type int (no range) and next() (per owner) or"
        " next(ref_field) of a ref field set once (Required 'yes, fixed'): next(card_id)",
    ),
    "a bound on a set callers join": (
        ("| followed_by | refs(User) |", "| followed_by | refs(User)(..5) |"),
        "| followed_by |",
        "followed_by is refs(User)(..5), a set only its callers join: it takes no bound",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_bad_action_or_derived_field_is_refused_at_its_line(tmp_path: Path, case: str) -> None:
    edit, row, message = REFUSED[case]
    doc = _tracker(tmp_path, edit)
    problems = problems_of(doc)
    at = _line(doc, row) + row.startswith("###")  # a route's own problems: at its table
    assert any(line == at and message in text for line, text in problems), problems


def test_a_viewer_flag_is_refused_on_a_model_read_without_a_token(tmp_path: Path) -> None:
    optional = "| Auth | Optional (anyone may read a board; a token, when sent, must be valid) |"
    doc = _tracker(tmp_path, (optional, "| Auth | None |"))
    ((line, message),) = problems_of(doc)
    assert line == _line(doc, "### GET /api/v1/boards/{slug}")
    assert message.startswith(
        "GET /api/v1/boards/{slug} reads Board with Auth None, which reads no token, so following"
        " (current user in followed_by) would always be false"
    )


def test_a_number_per_owner_is_refused_on_a_model_anyone_reads(tmp_path: Path) -> None:
    doc = _tracker(
        tmp_path, ("| slug | str | auto | slug(name) |", "| slug | int | auto | next() |")
    )
    problems = problems_of(doc)
    line = _line(doc, "### GET /api/v1/boards/{slug}")
    assert any(
        at == line and "but slug is next(), a number per owner, so it names no row" in text
        for at, text in problems
    ), problems


def test_optional_auth_is_refused_on_a_write(tmp_path: Path) -> None:
    doc = _tracker(
        tmp_path,
        (
            "| Auth | Required (Bearer) |\n| Request | BoardCreate |",
            "| Auth | Optional |\n| Request | BoardCreate |",
        ),
    )
    ((line, message),) = problems_of(doc)
    assert line == _line(doc, "| Auth | Optional |\n".strip())
    assert message.startswith("Auth is Optional on a POST; a write needs its caller")


def test_rows_of_an_action_on_a_route_that_is_no_action_are_refused(tmp_path: Path) -> None:
    doc = _tracker(
        tmp_path,
        ("### POST /api/v1/cards/{id}/pin", "### PUT /api/v1/cards/{id}/pin"),
    )
    ((line, message),) = problems_of(doc)
    assert line == _line(doc, "### PUT /api/v1/cards/{id}/pin") + 1  # its table
    assert "an action is a POST (or the DELETE that undoes a join) after a row's key" in message


# ---------------------------------------------------------------- add, check, evolve


@dataclass(frozen=True)
class Tracked:
    project: Path
    doc: Path


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Tracked:
    project = copy_project(tmp_path_factory.mktemp("actions") / "project")
    doc = project / "docs/features/FEAT-005-tracker.md"
    doc.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    added = featwright(project, "add", "docs/features/FEAT-005-tracker.md")
    assert added.returncode == 0, added.stdout + added.stderr
    return Tracked(project, doc)


def test_add_and_check_refuse_a_bad_action_with_exit_2_and_write_nothing(
    tracked: Tracked,
) -> None:
    project = tracked.project
    good = tracked.doc.read_text(encoding="utf-8")
    before = snapshot(project)
    try:
        tracked.doc.write_text(edited(good, (CLOSE_RULE, "| When | stat = open |")), "utf-8")
        line = _line(tracked.doc, "| When | stat = open |")
        for command in ("add", "check"):
            args = [command, "docs/features/FEAT-005-tracker.md"] if command == "add" else [command]
            result = featwright(project, *args)
            assert result.returncode == 2, (command, result.stdout + result.stderr)
            shown = result.stdout + result.stderr
            assert f"FEAT-005-tracker.md:{line}" in shown, shown
            assert "'stat' is no field of Card" in shown, shown
    finally:
        tracked.doc.write_text(good, encoding="utf-8")
    assert snapshot(project) == before


def test_check_compares_each_action_with_the_service_both_ways(tracked: Tracked) -> None:
    project, doc = tracked.project, tracked.doc
    service = project / "src/services/card_service.py"
    rule = 'when=(Rule("state", "=", CardState.OPEN),)'
    check_finds(
        project,
        {service: edited(service.read_text("utf-8"), (rule, rule.replace("OPEN", "CLOSED")))},
        'doc says When state = "open", the route state = "closed"',
    )
    pin = "| Sets | pinned = true |"
    check_finds(
        project,
        {doc: edited(doc.read_text("utf-8"), (pin, pin.replace("true", "false")))},
        "doc says Sets pinned = false, the route pinned = true",
    )
    assert featwright(project, "check").returncode == 0


def test_check_compares_joins_and_viewer_flags_both_ways(tracked: Tracked) -> None:
    project, doc = tracked.project, tracked.doc
    model, service = project / "src/models/board.py", project / "src/services/board_service.py"
    flag, joins = '    viewer_flags = {"following": "followed_by"}\n', "ADD_CALLER})"
    check_finds(
        project,
        {
            model: edited(model.read_text("utf-8"), (flag, "")),
            service: edited(service.read_text("utf-8"), (joins, "REMOVE_CALLER})")),
        },
        "the model says no viewer flag, doc says current user in followed_by",
        "doc says Sets followed_by += current user, the route followed_by -= current user",
    )
    text = doc.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines(keepends=True) if line.startswith("| following"))
    check_finds(
        project,
        {doc: edited(text, (row, ""))},
        "viewer flag (current user in ...) is not in the doc",
    )
    assert featwright(project, "check").returncode == 0


def test_check_compares_optional_auth_both_ways(tracked: Tracked) -> None:
    project, doc = tracked.project, tracked.doc
    optional = "| Auth | Optional (anyone may read a board; a token, when sent, must be valid) |"
    for written in ("Required",):  # None: refused, as a viewer flag needs a token read
        changed = edited(doc.read_text("utf-8"), (optional, f"| Auth | {written} |"))
        check_finds(
            project,
            {doc: changed},
            f"doc says Auth {written}, but the route takes a token or none",
        )


def test_a_changed_doc_adds_then_removes_an_action_and_its_derived_field(
    tmp_path: Path,
) -> None:
    project = copy_project(tmp_path / "project")
    doc = project / "docs/features/FEAT-005-tracker.md"
    original = EXAMPLE.read_text(encoding="utf-8")
    doc.write_text(original, encoding="utf-8")
    assert featwright(project, "add", str(doc)).returncode == 0
    routes = project / "src/api/v1/routes/cards.py"
    closed_at = "| closed_at | datetime | auto | null |"
    grown = edited(
        original,
        (closed_at, ARCHIVED_AT + STARRED + closed_at),
        ("\n## File Plan", ARCHIVE + STAR + "\n## File Plan"),
    )
    doc.write_text(grown, encoding="utf-8")
    added = featwright(project, "add", str(doc))
    assert added.returncode == 0, added.stdout + added.stderr
    migrations = sorted((project / "migrations/versions").glob("*.py"))
    migration = migrations[-1].read_text(encoding="utf-8")
    assert "archived_at" in migration
    assert 'create_table(\n        "card_starred_by"' in migration
    assert 'batch_op.add_column(sa.Column("code", sa.Text(), nullable=True))' in migration
    assert "ix_cards_owner_id_code" in migration  # unique among the owner's cards
    assert "star_count" not in migration
    assert '"starred"' not in migration
    assert '"/{id}/archive"' in routes.read_text(encoding="utf-8")
    assert '"/{id}/star"' in routes.read_text(encoding="utf-8")
    checked = featwright(project, "check", env={"COLUMNS": "300"})
    assert checked.returncode == 0, checked.stdout
    assert_lint_clean(project)
    doc.write_text(original, encoding="utf-8")
    refused = featwright(project, "add", str(doc))  # the column holds data: not silently
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "--allow-data-loss" in refused.stderr
    removed = featwright(project, "add", str(doc), "--allow-data-loss")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert '"/{id}/archive"' not in routes.read_text(encoding="utf-8")
    assert '"/{id}/star"' not in routes.read_text(encoding="utf-8")
    latest = sorted((project / "migrations/versions").glob("*.py"))[-1].read_text("utf-8")
    assert "drop_column" in latest
    assert 'drop_table("card_starred_by")' in latest
    assert featwright(project, "check").returncode == 0


# ------------------------------------------------------------------- round trips

ROUND_TRIPS = '''"""An action is one statement; a refused one, one more to tell 404 from 409.

A GET and a list page with a count field are one statement each."""

import uuid
from typing import Any

import httpx

from tests.crud_contract import create_row
from tests.live_server import sign_up
from tests.reliability.test_round_trips import Counter, _kinds, cluster, served

__all__ = ["cluster", "served"]
API = "/api/v1"


async def _counted(counter: Counter, request: Any) -> tuple[httpx.Response, list[str]]:
    await counter.reset()
    answer = await request
    return answer, _kinds(await counter.statements())


async def test_each_action_is_one_statement(
    served: tuple[httpx.AsyncClient, Counter],
) -> None:
    client, counter = served
    headers = await sign_up(client)
    for _ in range(3):  # warm every pooled connection and statement
        card = await create_row(client, headers, "cards")
        for verb in ("close", "reopen", "pin"):
            await client.post(f"{API}/cards/{card['id']}/{verb}", headers=headers)
    card = await create_row(client, headers, "cards")
    board = await create_row(client, headers, "boards")
    url = f"{API}/cards/{card['id']}"
    answer, kinds = await _counted(counter, client.post(f"{url}/close", headers=headers))
    assert answer.status_code == 200, answer.text
    assert kinds == ["UPDATE"]
    answer, kinds = await _counted(counter, client.post(f"{url}/close", headers=headers))
    assert answer.status_code == 409, answer.text
    assert sorted(kinds) == ["SELECT", "UPDATE"]  # the refused UPDATE, the read that explains
    answer, kinds = await _counted(counter, client.post(f"{url}/reopen", headers=headers))
    assert answer.status_code == 200, answer.text
    assert kinds == ["UPDATE"]
    body = {"board_id": board["id"], "priority": 2}
    for _ in range(3):
        await client.post(f"{url}/move", json=body, headers=headers)
    answer, kinds = await _counted(counter, client.post(f"{url}/move", json=body, headers=headers))
    assert answer.status_code == 200, answer.text
    assert kinds == ["UPDATE"]
    for _ in range(2):
        await client.post(f"{url}/comments", json={"body": "b"}, headers=headers)
    for _ in range(3):
        await client.get(url, headers=headers)
        await client.get(f"{API}/cards?limit=20", headers=headers)
    answer, kinds = await _counted(counter, client.get(url, headers=headers))
    assert (answer.json()["closed_at"], answer.json()["comment_count"]) == (None, 2)
    assert kinds == ["SELECT"]  # the count is in the row's own statement
    answer, kinds = await _counted(counter, client.get(f"{API}/cards?limit=20", headers=headers))
    assert answer.json()["items"]
    assert kinds == ["SELECT"]  # page 1 with its total: one statement, counts included


async def test_a_join_writes_the_pair_then_answers_the_row(
    served: tuple[httpx.AsyncClient, Counter],
) -> None:
    client, counter = served
    owner, reader = await sign_up(client), await sign_up(client)
    for _ in range(3):
        board = await create_row(client, owner, "boards")
        for method in ("POST", "POST", "DELETE", "DELETE"):
            await client.request(method, f"{API}/boards/{board['slug']}/follow", headers=reader)
        await client.get(f"{API}/boards/{board['slug']}", headers=reader)
    board = await create_row(client, owner, "boards")
    url = f"{API}/boards/{board['slug']}"  # keyed by the slug made from its name
    version = board["version"]
    for method, following, bumped in (
        ("POST", True, 1),  # the pair written and the version bumped, in one statement
        ("POST", True, 0),  # already in: nothing written, the row as it is
        ("DELETE", False, 1),
        ("DELETE", False, 0),
    ):
        request = client.request(method, f"{url}/follow", headers=reader)
        answer, kinds = await _counted(counter, request)
        assert answer.status_code == 200, answer.text
        assert kinds == ["SELECT", "WITH"], (method, kinds)  # the write, then the row
        assert answer.json()["following"] is following
        assert answer.json()["version"] == version + bumped
        version = answer.json()["version"]
    await client.post(f"{url}/follow", headers=reader)
    answer, kinds = await _counted(counter, client.get(url, headers=reader))
    assert (answer.json()["follower_count"], answer.json()["following"]) == (1, True)
    assert kinds == ["SELECT"]  # the count and the caller's flag: in the row's statement
    assert (await client.get(url)).json()["following"] is False  # nobody asks


async def test_a_numbered_create_and_a_read_by_slug_are_one_statement(
    served: tuple[httpx.AsyncClient, Counter],
) -> None:
    client, counter = served
    headers = await sign_up(client)
    card = await create_row(client, headers, "cards")
    comments = f"{API}/cards/{card['id']}/comments"
    name = f"Same name {uuid.uuid4().hex[:8]}"
    for _ in range(3):
        await client.post(comments, json={"body": "b"}, headers=headers)
        made = await client.post(f"{API}/boards", json={"name": name}, headers=headers)
        await client.get(f"{API}/boards/{made.json()['slug']}", headers=headers)
    answer, kinds = await _counted(
        counter, client.post(comments, json={"body": "b"}, headers=headers)
    )
    assert answer.json()["number"] == 4
    assert kinds == ["WITH"]  # the counter's upsert is a CTE of the INSERT
    answer, kinds = await _counted(counter, client.get(f"{comments}/4", headers=headers))
    assert (answer.status_code, kinds) == (200, ["SELECT"])
    slug = made.json()["slug"]
    answer, kinds = await _counted(counter, client.get(f"{API}/boards/{slug}"))
    assert (answer.json()["slug"], kinds) == (f"same-name-{name[-8:]}-3", ["SELECT"])
    fresh = client.post(f"{API}/boards", json={"name": f"New {name}"}, headers=headers)
    answer, kinds = await _counted(counter, fresh)
    assert answer.json()["slug"] == f"new-same-name-{name[-8:]}"
    assert kinds == ["INSERT"]  # a free slug: one statement
'''


def test_an_action_and_a_read_with_a_count_are_one_statement(tracked: Tracked) -> None:
    project = tracked.project
    trips = project / "tests/reliability/test_action_round_trips.py"
    trips.write_text(ROUND_TRIPS, encoding="utf-8")
    result = run_generated_tests(project, trips)
    assert " passed" in result.stdout, result.stdout[-500:]
    assert "skipped" not in result.stdout, result.stdout[-500:]
