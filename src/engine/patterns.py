"""The regular expressions a doc's `str(...) matching REGEX` may name, and a value of each.

A pattern is checked by pydantic's validator (Rust's `regex` crate) and shown in the OpenAPI
document, which clients read with their own engines (Python's `re` among them): a doc may
name only a pattern both compile. A value of it is what the generated tests send.
"""

import re
import string
from typing import Annotated, Any

from pydantic import Field, TypeAdapter
from pydantic_core import SchemaError

_CANDIDATES = "x" + string.ascii_lowercase + string.digits + string.ascii_uppercase + "-_ #.@"
_parser: Any = getattr(re, "_parser")  # noqa: B009 (the parser `re` compiles with)
_constants: Any = getattr(re, "_constants")  # noqa: B009


def pattern_problem(pattern: str) -> str | None:
    """Why the validator or Python's `re` cannot take `pattern`; None when both can."""
    if not pattern:
        return "'matching' names no regular expression; write e.g. matching ^[a-z]+$"
    try:
        re.compile(pattern)
    except re.error as error:
        return f"{pattern!r} is no regular expression ({error}); write e.g. ^[a-z]+$"
    try:
        TypeAdapter(Annotated[str, Field(pattern=pattern)])
    except SchemaError as error:
        reason = str(error).strip().splitlines()[-1].strip()
        return (
            f"{pattern!r} is a regular expression the validator (Rust's regex: no look-around,"
            f" no backreferences) cannot run ({reason}); write one without them"
        )
    return None


def pattern_sample(
    pattern: str, low: float | None = None, high: float | None = None, variant: int = 0
) -> str | None:
    """A short text `pattern` finds a match in, of `low` to `high` characters; None when
    none of the ones tried fits (every repetition taken 0, 1, 2... times more). Another
    `variant` picks other characters where the pattern allows several (for a unique
    field's next value)."""
    parsed = _parser.parse(pattern)
    for extra in range(int(high if high is not None else 64) + 1):
        try:
            text = _Sample(extra, variant).build(parsed)
        except ValueError:
            return None
        fits = (low is None or len(text) >= low) and (high is None or len(text) <= high)
        if fits and re.search(pattern, text):
            return text
    return None


class _Sample:
    """Builds one text of a parsed pattern: each character set's character chosen by the
    next digit of `variant` (in the base of how many it allows), each repetition its least
    number of times plus `extra` (within its most), a branch's first alternative."""

    def __init__(self, extra: int, variant: int) -> None:
        self.extra = extra
        self.variant = variant

    def build(self, items: Any) -> str:
        return "".join(self.item(op, value) for op, value in items)

    def item(self, op: Any, value: Any) -> str:
        c = _constants
        if op == c.LITERAL:
            return chr(value)
        if op in (c.ANY, c.NOT_LITERAL, c.IN, c.CATEGORY):
            accepted = [ch for ch in _CANDIDATES if _accepts(op, value, ch)] or _none(op)
            self.variant, index = divmod(self.variant, len(accepted))
            return accepted[index]
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            least, most, inner = value
            times: int = min(least + self.extra, most)
            return "".join(self.build(inner) for _ in range(times))
        if op == c.SUBPATTERN:
            return self.build(value[-1])
        if op == getattr(c, "ATOMIC_GROUP", None):
            return self.build(value)
        if op == c.BRANCH:
            return self.build(value[1][0])
        if op == c.AT:
            return ""
        raise ValueError(f"no sample for {op}")


def _none(op: Any) -> list[str]:
    raise ValueError(f"no character of {_CANDIDATES!r} fits {op}")


def _accepts(op: Any, value: Any, ch: str) -> bool:
    c = _constants
    if op == c.ANY:
        return True
    if op == c.NOT_LITERAL:
        return ch != chr(value)
    if op == c.CATEGORY:
        return bool(re.fullmatch(_CATEGORIES[value], ch))
    negated = bool(value) and value[0][0] == c.NEGATE
    found = any(_in_set(item_op, item, ch) for item_op, item in value if item_op != c.NEGATE)
    return bool(found != negated)


def _in_set(op: Any, value: Any, ch: str) -> bool:
    c = _constants
    if op == c.LITERAL:
        return ch == chr(value)
    if op == c.RANGE:
        return bool(value[0] <= ord(ch) <= value[1])
    if op == c.CATEGORY:
        return bool(re.fullmatch(_CATEGORIES[value], ch))
    return False


_CATEGORIES = {
    _constants.CATEGORY_DIGIT: r"\d",
    _constants.CATEGORY_NOT_DIGIT: r"\D",
    _constants.CATEGORY_SPACE: r"\s",
    _constants.CATEGORY_NOT_SPACE: r"\S",
    _constants.CATEGORY_WORD: r"\w",
    _constants.CATEGORY_NOT_WORD: r"\W",
}
