"""Query parameters whose value is comma-separated names the route lists (`expand`, `sort`).

A value is checked against the names (a 400 naming the parameter and the rule), and the OpenAPI
parameter is a string with the pattern of the names, so a client and `featwright check` read
them off the document.
"""

import re
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema


class NameList:
    """The metadata of `Annotated[str | None, Subclass(*names)]`: `pattern`, `description` and
    `max_length` for the document, `check()` for a value within the bound."""

    max_length: int
    pattern: str
    description: str

    def __init__(self, *names: str) -> None:
        self.names = names
        self.one = "|".join(map(re.escape, names))
        """The pattern of one name."""

    def check(self, value: str) -> None:
        """Raise `PydanticCustomError` if `value` is not a list this parameter takes."""
        raise NotImplementedError

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def checked(value: str | None) -> str | None:
            if value is None:
                return None
            if len(value) > self.max_length:
                raise PydanticCustomError(
                    "string_too_long",
                    "at most {max_length} characters",
                    {"max_length": self.max_length},
                )
            self.check(value)
            return value

        return core_schema.no_info_after_validator_function(checked, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": self.pattern,
            "maxLength": self.max_length,
            "description": self.description,
        }


def names_of(pattern: str, template: str) -> tuple[str, ...] | None:
    """The names a pattern written from `template` (with `{one}` for the names' alternation)
    takes, or None if it is not such a pattern."""
    expected = re.escape(template).replace(re.escape("{one}"), "(?P<one>[^()]*)", 1)
    expected = expected.replace(re.escape("{one}"), "(?P=one)")
    match = re.fullmatch(expected, pattern)
    return (
        tuple(re.sub(r"\\(.)", r"\1", name) for name in match["one"].split("|")) if match else None
    )
