"""The action rows of a design doc (`When`, `Sets`, `Request | fields ...`), read against the
model they act on: each value is parsed with its field's type, so a doc that names an
unknown field, a value of the wrong type or a field the system sets is refused with its line.

The parsed rules and values are those of `src.core.actions`, so the doc, the generated
service and the OpenAPI document (`x-action`) write them in the same words.
"""

import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from src.core.actions import ADD_CALLER, CALLER, NOW, REMOVE_CALLER, Action, Rule
from src.schemas.base import INT32, DecimalString

if TYPE_CHECKING:
    from src.engine.doc import Model, ModelField

ACTION_PATH = re.compile(
    r"/api/v1/(?P<rows>[a-z][a-z0-9_]*)/\{(?P<key>[a-z][a-z0-9_]*)\}/(?P<verb>[a-z][a-z0-9_]*)"
)
"""`/api/v1/tasks/{id}/close`: a verb after the item key."""
SYSTEM_FIELDS = ("id", "owner_id", "created_at", "updated_at", "version")
"""Fields the system sets on every row: no action assigns them."""
CRUD_VERBS = ("create", "get", "list", "update", "patch", "delete")
"""Names the generated route functions of a model already take (`update_task`)."""
COMPARED_KINDS = ("str", "int", "float", "decimal", "bool", "date", "datetime", "enum")
"""The kinds a `When` compares and a `Sets` assigns a literal to."""
_TEXT = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'')
_RULE = re.compile(
    r"(?P<field>[a-z][a-z0-9_]*)\s+(?:(?P<null>is(?:\s+not)?\s+null)|(?P<op>!=|=)\s*(?P<value>.+))"
)
_ASSIGNMENT = re.compile(r"(?P<field>[a-z][a-z0-9_]*)\s*(?P<op>\+=|-=|=)\s*(?P<value>.+)")
_INTEGER = re.compile(r"-?\d+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class ActionDoc:
    """What an action endpoint says: its verb, the rules that must hold, what it sets."""

    verb: str
    rows: str
    """The table of the rows it acts on (`cards`)."""
    key: str
    """The path's item key (`id`, or a unique field)."""
    sets: tuple[tuple[str, Any], ...]
    """(field, value): a literal of the field's type, None, or `NOW`."""
    when: tuple[Rule, ...]
    takes: tuple[str, ...]
    """The model fields the body gives (`Request | fields project_id, section_id`)."""
    method: str = "POST"
    """DELETE: the undo of a join (`DELETE /articles/{slug}/favorite`, `-= current user`)."""

    @property
    def joins_or_leaves(self) -> bool:
        """`favorited_by += current user` or `-=`: the caller needs only read access."""
        return any(value in (ADD_CALLER, REMOVE_CALLER) for _, value in self.sets)

    @property
    def running(self) -> Action:
        """The action as the generated service declares it."""
        return Action(self.verb, dict(self.sets), self.when, self.takes, self.method)

    @property
    def texts(self) -> dict[str, list[str]]:
        """The action in the words the route's `x-action` shows it (`Action.described()`)."""
        shown: dict[str, list[str]] = self.running.described()["x-action"]
        return {part: shown[part] for part in ("sets", "when", "takes")}


def split_top(text: str, separator: str) -> Iterator[str]:
    """`text` split at `separator` outside quoted text."""
    masked = _TEXT.sub(lambda quoted: "x" * len(quoted[0]), text)
    start = 0
    for found in re.finditer(separator, masked):
        yield text[start : found.start()].strip()
        start = found.end()
    yield text[start:].strip()


def read_action(
    model: "Model",
    verb: str,
    key: str,
    sets: str,
    when: str,
    takes: str,
    method: str = "POST",
) -> tuple[ActionDoc, list[str]]:
    """The action, and what is wrong with it (each a message for the doc line of its row:
    `sets`, `when` and `takes` are the cell texts, empty when the row is absent)."""
    problems: list[str] = []
    rules = []
    for part in split_top(when, r"\s+and\s+") if when else ():
        rule, problem = _read_rule(model, part)
        if problem is not None:
            problems.append(f"When {part!r}: {problem}")
        elif rule is not None:
            rules.append(rule)
    assigned: dict[str, Any] = {}
    for part in split_top(sets, ",") if sets else ():
        found = _ASSIGNMENT.fullmatch(part)
        if found is None:
            problems.append(f"Sets {part!r}: expected 'field = value' (a literal, null, now())")
            continue
        name = found["field"]
        problem = _settable(model, name, found["op"])
        if problem is None and name in assigned:
            problem = "assigned twice; expected each field once"
        if problem is None and found["op"] != "=":
            if found["value"].strip() != "current user":
                problem = f"{found['op']} takes 'current user' (the caller joins or leaves)"
            assigned[name] = ADD_CALLER if found["op"] == "+=" else REMOVE_CALLER
        elif problem is None:
            value, problem = _read_value(_field(model, name), found["value"].strip())
            assigned[name] = value
        if problem is not None:
            problems.append(f"Sets {part!r}: {problem}")
    taken = tuple(name.strip(" `") for name in takes.split(",") if name.strip(" `"))
    for name in taken:
        problem = _takeable(model, name)
        if problem is None and name in assigned:
            problem = "is in Sets too; expected it in one of them"
        if problem is not None:
            problems.append(f"Request fields {name!r}: {problem}")
    if not sets and not taken:
        problems.append(
            f"action {verb!r} changes nothing; expected a 'Sets' row (field = value, ...) or"
            " 'Request | fields a, b'"
        )
    joining = [value for value in assigned.values() if value in (ADD_CALLER, REMOVE_CALLER)]
    if joining and (len(assigned) > 1 or rules or taken):
        problems.append(
            f"Sets {sets!r}: a join or leave (+= or -= current user) is the action's only"
            " change, with no When and no Request (it needs only read access to the row)"
        )
    if method == "DELETE" and joining != [REMOVE_CALLER]:
        problems.append(
            f"Sets {sets!r}: a DELETE action undoes a join; expected 'field -= current user'"
        )
    if verb in CRUD_VERBS:
        problems.append(f"action {verb!r} has the name of a CRUD operation; expected another verb")
    action = ActionDoc(verb, model.table, key, tuple(assigned.items()), tuple(rules), taken, method)
    return action, problems


def _field(model: "Model", name: str) -> "ModelField":
    found = model.field(name)
    assert found is not None
    return found


def _unknown(model: "Model", name: str) -> str | None:
    if model.field(name) is not None:
        return None
    names = [f.name for f in model.fields if f.name not in SYSTEM_FIELDS]
    close = difflib.get_close_matches(name, names, n=1)
    expected = f"{close[0]!r}" if close else f"one of {', '.join(names)}"
    return f"{name!r} is no field of {model.name}; expected {expected}"


def _settable(model: "Model", name: str, operator: str) -> str | None:
    """Why `Sets` may not assign `name`, or None."""
    unknown = _unknown(model, name)
    if unknown is not None:
        return unknown
    item = _field(model, name)
    if name in SYSTEM_FIELDS:
        return f"{name} is set by the system on every row; expected a field of {model.name}"
    if item.required == "auto" and item.default != "null" and item.type.kind != "refs":
        return (
            f"{name} is derived ({item.default}); expected a field a client sets or a derived"
            " field with Default null (set only by actions)"
        )
    if operator != "=" or item.type.kind == "refs":
        if item.type.kind != "refs" or item.type.ref != "User" or item.required != "auto":
            return (
                f"{operator} adds or removes the caller on a refs(User) field with Required"
                f" auto; {name} is {item.type.kind}: expected 'field = value'"
            )
        if operator == "=":
            return f"{name} is a set of users; expected '{name} += current user' or '-='"
        return None
    if item.fixed:
        return f"{name} is set at create only (fixed); expected a field an action may change"
    if item.type.kind == "ref" and item.type.ref == "User" and item.derived:
        return None  # who ran it: `closed_by = current user`
    if item.type.kind not in COMPARED_KINDS:
        return (
            f"{name} is {item.type.kind}; Sets assigns fields of {', '.join(COMPARED_KINDS)}"
            " (a reference comes from the body: 'Request | fields ...')"
        )
    return None


def _takeable(model: "Model", name: str) -> str | None:
    """Why an action's body may not give `name`, or None."""
    unknown = _unknown(model, name)
    if unknown is not None:
        return unknown
    item = _field(model, name)
    if item.required == "auto":
        return f"{name} is set by the system; expected a field a client sets"
    if item.fixed:
        return f"{name} is set at create only (fixed); expected a field an update may change"
    if item.type.kind == "refs":
        return f"{name} is refs(...); expected a field of one value (an update replaces a set)"
    return None


def _read_rule(model: "Model", text: str) -> tuple[Rule | None, str | None]:
    found = _RULE.fullmatch(text)
    if found is None:
        return None, "expected 'field = value', 'field != value', 'field is null' or 'is not null'"
    name = found["field"]
    unknown = _unknown(model, name)
    if unknown is not None:
        return None, unknown
    item = _field(model, name)
    if item.type.kind not in COMPARED_KINDS or item.counted is not None:
        kind = "a count" if item.counted is not None else item.type.kind
        return None, f"{name} is {kind}; When compares fields of {', '.join(COMPARED_KINDS)}"
    if found["null"] is not None:
        operator = re.sub(r"\s+", " ", found["null"])
        if not item.nullable:
            always = "fail" if operator == "is null" else "hold"
            return None, f"{name} is never null, so the rule would always {always}"
        return Rule(name, operator), None
    if item.type.kind == "datetime":
        return None, f"a datetime is compared with null only: '{name} is null' or 'is not null'"
    value, problem = _read_value(item, found["value"].strip(), allow_now=False)
    if problem is not None:
        return None, problem
    if value is None:
        return None, f"compare with null as '{name} is null' or '{name} is not null'"
    return Rule(name, found["op"], value), None


def _read_value(item: "ModelField", text: str, *, allow_now: bool = True) -> tuple[Any, str | None]:
    """The literal `text` as a value of the field, or why it is none."""
    kind, name = item.type.kind, item.name
    if text == "null":
        return (None, None) if item.nullable else (None, f"{name} is never null")
    if text == "now()":
        if allow_now and kind == "datetime":
            return NOW, None
        return None, "now() is a datetime value set by an action; expected a literal"
    if text == "current user":
        if kind == "ref" and item.type.ref == "User":
            return CALLER, None
        return None, "current user is a value of a ref(User) field; expected a literal"
    if kind == "ref":  # only a ref(User) set by actions gets here
        return None, f"expected current user or null for {name} (who ran the action)"
    quoted = _TEXT.fullmatch(text)
    plain = (json.loads(text) if text.startswith('"') else text[1:-1]) if quoted else text
    expected = _expected_literal(item)
    if kind == "bool":
        return (text == "true", None) if text in ("true", "false") else (None, expected)
    if kind == "int":
        if not _INTEGER.fullmatch(text):
            return None, expected
        return _bounded(item, int(text), expected)
    if kind == "float":
        return (
            _bounded(item, float(text), expected) if _NUMBER.fullmatch(text) else (None, expected)
        )
    if kind == "decimal":  # as the column keeps it: no digit more than it holds, none rounded
        rule = DecimalString(item.type.precision, item.type.scale or 0)
        if len(text) > rule.max_length or not re.fullmatch(rule.pattern, text):
            return None, f"{text} {rule.message}; {expected}"
        return _bounded(item, Decimal(text), expected)
    if kind == "enum":
        return (plain, None) if plain in item.type.choices else (None, expected)
    if kind == "date":
        try:
            return date.fromisoformat(plain), None
        except ValueError:
            return None, expected
    if kind == "str":
        if not quoted:
            return None, expected
        low, high = item.type.low or 0, item.type.high
        if len(plain) < low or (high is not None and len(plain) > high):
            return None, f"{text} breaks {name}'s length; {expected}"
        if item.type.pattern and not re.search(item.type.pattern, plain):
            return None, f"{text} does not match {name}'s pattern; {expected}"
        if "\x00" in plain:
            return None, f"a text holds no NUL character; {expected}"
        return plain, None
    return None, expected


def _bounded(item: "ModelField", value: Any, expected: str) -> tuple[Any, str | None]:
    low, high = item.type.low, item.type.high
    if item.type.kind == "int" and low is None and high is None:
        low, high = INT32  # the column of an `int` without a range
    if (low is not None and value < low) or (high is not None and value > high):
        return None, f"{value} is outside {item.name}'s range; {expected}"
    return value, None


def _expected_literal(item: "ModelField") -> str:
    kind = item.type.kind
    words = {
        "bool": "true or false",
        "int": "an integer",
        "float": "a number",
        "decimal": "a number",
        "date": "a date YYYY-MM-DD",
        "str": 'a quoted text ("...")',
        "datetime": "now()",
    }
    if kind == "enum":
        words["enum"] = f"one of {', '.join(item.type.choices)}"
    null = " or null" if item.nullable else ""
    found = words.get(kind, "no literal")
    return f"expected {found}{null} for {item.name} ({kind})"
