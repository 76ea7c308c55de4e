"""The query parameters of a list that people query with: `sort` and `<field>__in`.

`?sort=-priority,due_date` names keys of the route's own list, `-` for descending; `?status__in=
open,done` takes comma-separated values of the field's type. Anything else is a 400 naming the
parameter and the rule. The OpenAPI parameter states the rule (a pattern of the sort keys), so
a client and `featwright check` read it off the document.
"""

from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, TypeAdapter, ValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from src.api.names import NameList, names_of
from src.core.pagination import IN_MAX_VALUES, SORT_MAX_KEYS, SORT_MAX_LENGTH

SORT_PATTERN = "^-?({one})(,-?({one}))" + f"{{0,{SORT_MAX_KEYS - 1}}}$"
"""A sort's keys (`{one}`: the names' alternation), at most `SORT_MAX_KEYS` of them."""


class Sortable(NameList):
    """Goes in `Annotated[str, Sortable("priority", "due_date")] = "-created_at"`: the value is
    comma-separated keys among these names, each at most once, `-` before one for descending."""

    max_length = SORT_MAX_LENGTH

    def __init__(self, *names: str) -> None:
        super().__init__(*names)
        self.pattern = SORT_PATTERN.replace("{one}", self.one)
        self.description = (
            f"Comma-separated keys, `-` for descending: {', '.join(names)}. At most"
            f" {SORT_MAX_KEYS}, each once; the id breaks ties. Nulls come after every value"
            " (first when descending)."
        )

    def check(self, value: str) -> None:
        keys = [key.removeprefix("-") for key in value.split(",")]
        unknown = [key for key in keys if key not in self.names]
        if unknown:
            raise PydanticCustomError(
                "unknown_sort",
                "{unknown} is not a key this list sorts by; expected comma-separated keys"
                " of: {names}, each with - before it for descending",
                {"unknown": ", ".join(map(repr, unknown)), "names": ", ".join(self.names)},
            )
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice or len(keys) > SORT_MAX_KEYS:
            raise PydanticCustomError(
                "sort_keys",
                "each key at most once and at most {most} keys; {twice} repeated",
                {"most": SORT_MAX_KEYS, "twice": ", ".join(map(repr, twice)) or "none"},
            )


def sort_keys(pattern: str) -> tuple[str, ...] | None:
    """The keys a `sort` parameter's pattern takes (as `Sortable` writes it), or None if it
    is not such a pattern."""
    return names_of(pattern, SORT_PATTERN)


class OneOf:
    """Goes in `Annotated[str | None, Query(...), OneOf(TaskStatus)] = None`: the value is up
    to `IN_MAX_VALUES` comma-separated values, each read as `item` reads a query value (a
    bad one is a 400 naming its place), and the route gets them as a tuple. The OpenAPI
    parameter is an array of the item's schema, sent comma-separated (`style: form`,
    `explode: false`, set by src/api/openapi.py where it finds `COMMA_SEPARATED`)."""

    def __init__(self, item: Any) -> None:
        self.items = TypeAdapter(item)
        self.item_schema = self.items.json_schema()
        if self.item_schema.get("type") == "string" and not {"format", "enum"} & set(
            self.item_schema
        ):  # text: a comma would split it
            self.item_schema["pattern"] = NO_COMMA
        self.max_length = IN_MAX_VALUES * (_longest(self.item_schema) + 1)

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def values(text: str | None) -> tuple[Any, ...] | None:
            if text is None:
                return None
            if len(text) > self.max_length:
                raise PydanticCustomError(
                    "string_too_long",
                    "at most {max_length} characters",
                    {"max_length": self.max_length},
                )
            parts = text.split(",")
            if len(parts) > IN_MAX_VALUES:
                raise PydanticCustomError(
                    "too_many_values",
                    "at most {most} comma-separated values, got {count}",
                    {"most": IN_MAX_VALUES, "count": len(parts)},
                )
            read = []
            for place, part in enumerate(parts, start=1):
                try:
                    read.append(self.items.validate_python(part))
                except ValidationError as error:
                    raise PydanticCustomError(
                        "invalid_value",
                        "value {place} ('{value}'): {problem}",
                        {
                            "place": place,
                            "value": part[:50],
                            "problem": error.errors()[0]["msg"],
                        },
                    ) from None
            return tuple(dict.fromkeys(read))

        return core_schema.no_info_after_validator_function(values, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "array",
            "items": {k: v for k, v in self.item_schema.items() if k != "title"},
            "minItems": 1,
            "maxItems": IN_MAX_VALUES,
            COMMA_SEPARATED: True,
        }


COMMA_SEPARATED = "x-comma-separated"
"""Marks a query parameter's array schema that is sent as one comma-separated value."""
NO_COMMA = "^[^,\\u0000]*$"
"""Text in a comma-separated list: no comma (it would split the value), no NUL."""
_TEXT_LENGTHS = {"uuid": 36, "date": 10, "date-time": 40}


def _longest(schema: JsonSchemaValue) -> int:
    """The most characters one value of `schema` takes in a URL."""
    if "maxLength" in schema:
        return int(schema["maxLength"])
    if "enum" in schema:
        return max(len(str(value)) for value in schema["enum"])
    if schema.get("format") in _TEXT_LENGTHS:
        return _TEXT_LENGTHS[schema["format"]]
    return 24  # a number: 20 digits and a sign, or a decimal's text
