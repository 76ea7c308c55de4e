"""Actions on one row (`POST /tasks/{id}/close`): what they set, and the rule that must hold.

An action is data, declared once per feature in its service (`TaskService.actions`). The
repository turns it into one `UPDATE ... WHERE <rules> RETURNING`, the service explains a
miss (404, 412, or the 409 of the rule that failed), and the route shows it in the OpenAPI
document (`x-action`), where `featwright check` compares it with the design doc. Values and
rules are written as the doc writes them (`is_completed = false`, `completed_at = now()`),
so the two compare as text.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

RULE_OPERATORS = ("=", "!=", "is null", "is not null")
"""What a `When` compares with: equal, not equal (null is not equal either), null, not null."""


class _Now:
    """`now()`: the time the action runs, the same instant as the row's `updated_at`."""

    def __repr__(self) -> str:
        return "NOW"


NOW: Any = _Now()


class _Caller:
    """`current user`: who runs the action, set on a `ref(User)` field (`closed_by`)."""

    def __repr__(self) -> str:
        return "CALLER"


CALLER: Any = _Caller()


@dataclass(frozen=True)
class CallerChange:
    """`favorited_by += current user` (`adds`) or `-= current user`: the caller joins or
    leaves a `refs(User)` field. Needs only read access to the row; one already in (or
    already out) is a success that changes nothing."""

    adds: bool

    def __repr__(self) -> str:
        return "ADD_CALLER" if self.adds else "REMOVE_CALLER"

    @property
    def operator(self) -> str:
        return "+=" if self.adds else "-="


ADD_CALLER: Any = CallerChange(adds=True)
REMOVE_CALLER: Any = CallerChange(adds=False)


def value_text(value: Any) -> str:
    """A value as a doc writes it: `true`, `null`, `3`, `now()`, `"text"`."""
    if value is NOW:
        return "now()"
    if value is CALLER:
        return "current user"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool | int | float) or value is None:
        return json.dumps(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return json.dumps(value.isoformat())
    return json.dumps(str(value), ensure_ascii=False)


@dataclass(frozen=True)
class Rule:
    """One comparison of a `When`: `is_completed = false`, `completed_at is not null`."""

    field: str
    operator: str
    value: Any = None

    def __post_init__(self) -> None:
        if self.operator not in RULE_OPERATORS:
            raise ValueError(f"{self.operator!r} is not one of {RULE_OPERATORS}")

    def __str__(self) -> str:
        if self.operator.startswith("is"):
            return f"{self.field} {self.operator}"
        return f"{self.field} {self.operator} {value_text(self.value)}"

    def holds(self, row: Any) -> bool:
        """Whether the row, as read, keeps the rule: how a 409 tells which rule failed."""
        current = getattr(row, self.field)
        if self.operator == "is null":
            return current is None
        if self.operator == "is not null":
            return current is not None
        equal = current is not None and current == self.value
        return equal if self.operator == "=" else not equal


@dataclass(frozen=True)
class Action:
    """`POST /<rows>/{id}/<name>`: when every rule of `when` holds, set `sets` (values, `None`,
    `NOW`) and the fields of the body (`takes`), in one statement that bumps the version."""

    name: str
    sets: Mapping[str, Any] = field(default_factory=dict)
    when: tuple[Rule, ...] = ()
    takes: tuple[str, ...] = ()
    """The model fields the action's body gives (`Request | fields project_id`)."""
    method: str = "POST"
    """`DELETE /articles/{slug}/favorite`: the undo of the POST of the same verb."""

    def __post_init__(self) -> None:
        changes = [v for v in self.sets.values() if isinstance(v, CallerChange)]
        if changes and (len(self.sets) > 1 or self.when or self.takes):
            raise ValueError(f"{self.name}: a caller's join or leave is the action's only change")
        if self.method != "POST" and not (changes and not changes[0].adds):
            raise ValueError(
                f"{self.name}: {self.method} undoes a join; expected '-= current user'"
            )

    @property
    def key(self) -> str:
        """The action among its service's `actions`: its verb, with its method if not POST."""
        return self.name if self.method == "POST" else f"{self.method} {self.name}"

    @property
    def caller_change(self) -> tuple[str, bool] | None:
        """(the `refs(User)` field, whether the caller joins) of a join or leave, or None."""
        for name, value in self.sets.items():
            if isinstance(value, CallerChange):
                return name, value.adds
        return None

    def described(self) -> dict[str, Any]:
        """The action as the OpenAPI document shows it (`x-action`), in the doc's words."""
        return {
            "x-action": {
                "name": self.name,
                "sets": [_assignment(name, value) for name, value in self.sets.items()],
                "when": [str(rule) for rule in self.when],
                "takes": list(self.takes),
            }
        }

    @property
    def shape(self) -> tuple[Any, ...]:
        """What its statement depends on (the values are parameters): a cache key."""
        sets = tuple(
            (name, repr(value) if value in (NOW, CALLER) or isinstance(value, CallerChange) else "")
            for name, value in self.sets.items()
        )
        rules = tuple((rule.field, rule.operator) for rule in self.when)
        return (self.name, sets, rules)

    def failed_rule(self, row: Any) -> Rule | None:
        """The first rule the row breaks, or None."""
        return next((rule for rule in self.when if not rule.holds(row)), None)


def _assignment(name: str, value: Any) -> str:
    if isinstance(value, CallerChange):
        return f"{name} {value.operator} current user"
    return f"{name} = {value_text(value)}"


def by_name(*actions: Action) -> Mapping[str, Action]:
    """A service's `actions`, each by its key (the verb of its path; `DELETE favorite`)."""
    return {action.key: action for action in actions}
