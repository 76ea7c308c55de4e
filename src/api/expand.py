"""The `expand` query parameter: which references a GET answers with their rows embedded.

`?expand=project,labels` names fields of the route's own list; any other name is a 400 naming
`expand`, with the names it takes. The OpenAPI parameter states the same rule as a pattern,
so a client (and `featwright check`) reads the names off the document.
"""

from pydantic_core import PydanticCustomError

from src.api.names import NameList, names_of

EXPAND_MAX_LENGTH = 1000
"""Characters of an `expand` value: every input is bounded."""
PATTERN = "^({one})(,({one}))*$"
"""Expanded names (`{one}`: their alternation), each any number of times."""


class Expandable(NameList):
    """Goes in `Annotated[str | None, Expandable("project", "labels")]`: the value is a
    comma-separated list of these names, each any number of times."""

    max_length = EXPAND_MAX_LENGTH

    def __init__(self, *names: str) -> None:
        super().__init__(*names)
        self.pattern = PATTERN.replace("{one}", self.one)
        self.description = (
            "Comma-separated fields whose rows the answer embeds beside their ids:"
            f" {', '.join(names)}."
        )

    def check(self, value: str) -> None:
        unknown = [name for name in value.split(",") if name not in self.names]
        if unknown:
            raise PydanticCustomError(
                "unknown_expand",
                "{unknown} is not a field this route embeds; expected comma-separated"
                " names of: {names}",
                {"unknown": ", ".join(map(repr, unknown)), "names": ", ".join(self.names)},
            )


def expanded_names(pattern: str) -> tuple[str, ...] | None:
    """The names an `expand` parameter's pattern takes (as `Expandable` writes it), or None
    if it is not such a pattern."""
    return names_of(pattern, PATTERN)
