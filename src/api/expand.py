"""The `expand` query parameter: which references a GET answers with their rows embedded.

`?expand=project,labels` names fields of the route's own list; any other name is a 400 naming
`expand`, with the names it takes. The OpenAPI parameter states the same rule as a pattern,
so a client (and `featwright check`) reads the names off the document.
"""

import re
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

EXPAND_MAX_LENGTH = 1000
"""Characters of an `expand` value: every input is bounded."""


class Expandable:
    """Goes in `Annotated[str | None, Expandable("project", "labels")]`: the value is a
    comma-separated list of these names, each any number of times."""

    def __init__(self, *names: str) -> None:
        self.names = names
        one = "|".join(map(re.escape, names))
        self.pattern = f"^({one})(,({one}))*$"
        self.description = (
            "Comma-separated fields whose rows the answer embeds beside their ids:"
            f" {', '.join(names)}."
        )

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def checked(value: str | None) -> str | None:
            if value is None:
                return None
            if len(value) > EXPAND_MAX_LENGTH:
                raise PydanticCustomError(
                    "string_too_long",
                    "at most {max_length} characters",
                    {"max_length": EXPAND_MAX_LENGTH},
                )
            unknown = [name for name in value.split(",") if name not in self.names]
            if unknown:
                raise PydanticCustomError(
                    "unknown_expand",
                    "{unknown} is not a field this route embeds; expected comma-separated"
                    " names of: {names}",
                    {"unknown": ", ".join(map(repr, unknown)), "names": ", ".join(self.names)},
                )
            return value

        return core_schema.no_info_after_validator_function(checked, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": self.pattern,
            "maxLength": EXPAND_MAX_LENGTH,
            "description": self.description,
        }


def expanded_names(pattern: str) -> tuple[str, ...] | None:
    """The names an `expand` parameter's pattern takes (as `Expandable` writes it), or None
    if it is not such a pattern."""
    match = re.fullmatch(r"\^\((?P<one>[^()]*)\)\(,\((?P=one)\)\)\*\$", pattern)
    return (
        tuple(re.sub(r"\\(.)", r"\1", name) for name in match["one"].split("|")) if match else None
    )
