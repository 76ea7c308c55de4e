"""Conditional requests (RFC 9110 section 13): strong ETags from `version`, `If-Match` on writes.

The ETag of a row is its version in quotes (`"3"`). `If-Match` is parsed here into
the set of versions a write accepts; the comparison itself happens in the UPDATE or
DELETE statement (`Repository._target`), never in Python.
"""

import re
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from pydantic import ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import PydanticCustomError

from src.core.errors import PreconditionRequired
from src.repositories.base import Record, Versions

_TAG = r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"'
IF_MATCH_PATTERN = rf"^(\*|({_TAG}|,([ \t]*{_TAG})?)([ \t]*,([ \t]*{_TAG})?)*)?$"
"""RFC 9110's `If-Match`: `*`, or a comma-separated list of entity tags, where empty
elements are allowed (and ignored). No leading or trailing whitespace: HTTP strips it."""
_TAGS = re.compile(_TAG)
_VERSION = re.compile(r"[1-9][0-9]{0,9}")
MAX_VERSION = 2**31 - 1
"""`version` is a 32-bit INTEGER; a larger tag names no version (412, not a driver error)."""


def etag(row: Record) -> str:
    return f'"{row.version}"'


def tagged(response: Response, row: Record) -> Record:
    """Sets the row's ETag on the response and hands the row back, for `return tagged(...)`."""
    response.headers["ETag"] = etag(row)
    return row


IF_MATCH_SYNTAX = (
    'If-Match must be one or more quoted ETags as sent in ETag, e.g. "3" or W/"3", or *'
)


def _explained(value: Any, validate: ValidatorFunctionWrapHandler) -> Any:
    """A header that breaks `IF_MATCH_PATTERN` is told what the header looks like, not
    shown the regular expression; other errors (too long) keep their own message."""
    try:
        return validate(value)
    except ValidationError as error:
        if error.errors()[0]["type"] == "string_pattern_mismatch":
            raise PydanticCustomError("string_pattern_mismatch", IF_MATCH_SYNTAX) from None
        raise


def parse_if_match(value: str) -> Versions:
    """`*` is any version (None); otherwise the versions named by strong tags.

    The header was matched against `IF_MATCH_PATTERN` already. Weak tags and tags that
    are not ours never match (strong comparison), so they lead to 412, never to an
    unconditional write.
    """
    if value.strip() == "*":
        return None
    return frozenset(
        int(tag)
        for weak, tag in _TAGS.findall(value)
        if not weak and _VERSION.fullmatch(tag) and int(tag) <= MAX_VERSION
    )


async def get_if_match(
    request: Request,
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            max_length=1000,
            pattern=IF_MATCH_PATTERN,
            description="The ETag this write replaces; a stale one is answered 412.",
        ),
        WrapValidator(_explained),
    ] = None,
) -> Versions:
    versions = None if if_match is None else parse_if_match(if_match)
    if versions is None and request.app.state.settings.require_if_match:
        # `*` would be a blind overwrite too, which is what the setting exists to refuse.
        raise PreconditionRequired(
            "This service requires If-Match on PUT and DELETE naming the ETag of a GET"
        )
    return versions


IfMatch = Annotated[Versions, Depends(get_if_match)]
