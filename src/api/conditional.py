"""Conditional requests (RFC 9110 section 13): strong ETags from `version`, `If-Match` on writes.

The ETag of a row is its version in quotes (`"3"`). `If-Match` is parsed here into
the set of versions a write accepts; the comparison itself happens in the UPDATE or
DELETE statement (`Repository._target`), never in Python.
"""

import re
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError

from src.core.errors import PreconditionRequired
from src.models.base import Entity
from src.repositories.base import Versions

EntityT = TypeVar("EntityT", bound=Entity)

_ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')
_VERSION = re.compile(r"[0-9]{1,18}")


def etag(row: Entity) -> str:
    return f'"{row.version}"'


def tagged(response: Response, row: EntityT) -> EntityT:
    """Sets the row's ETag on the response and hands the row back, for `return tagged(...)`."""
    response.headers["ETag"] = etag(row)
    return row


def parse_if_match(value: str) -> Versions:
    """`*` is any version (None); otherwise the versions named by strong tags.

    Weak tags and tags that are not ours never match (strong comparison), so they
    lead to 412 rather than to an unconditional write.
    """
    value = value.strip()
    if value == "*":
        return None
    versions: set[int] = set()
    for item in value.split(","):
        match = _ENTITY_TAG.fullmatch(item.strip())
        if match is None:
            raise RequestValidationError(
                [
                    {
                        "type": "entity_tag",
                        "loc": ("header", "If-Match"),
                        "msg": 'must be "*" or a comma-separated list of entity tags such as "3"',
                        "input": value,
                    }
                ]
            )
        weak, tag = match.groups()
        if not weak and _VERSION.fullmatch(tag):
            versions.add(int(tag))
    return frozenset(versions)


async def get_if_match(
    request: Request,
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            max_length=1000,
            description="The ETag this write replaces; a stale one is answered 412.",
        ),
    ] = None,
) -> Versions:
    if if_match is None:
        if request.app.state.settings.require_if_match:
            raise PreconditionRequired(
                "This service requires If-Match on PUT and DELETE: send the ETag of a GET"
            )
        return None
    return parse_if_match(if_match)


IfMatch = Annotated[Versions, Depends(get_if_match)]
