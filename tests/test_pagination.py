"""A sorted list's cursors: every one a list issues fits the bound its parameter states and reads
back as it was; one of another sort, or not a cursor at all, is refused as a 400."""

import base64
import uuid

import pytest

from src.core.pagination import (
    SORT_MAX_KEYS,
    SORT_TEXT_MAX_LENGTH,
    SORTED_CURSOR_MAX_LENGTH,
    InvalidCursor,
    decode_sorted_cursor,
    encode_sorted_cursor,
)


@pytest.mark.parametrize("char", ["\x01", "😀", "語", '"', "\\", "é"])
def test_the_longest_cursor_a_list_issues_fits_its_bound_and_reads_back(char: str) -> None:
    sort = ",".join(f"-key_{n}" for n in range(SORT_MAX_KEYS))
    values = [char * SORT_TEXT_MAX_LENGTH] * SORT_MAX_KEYS
    id = uuid.uuid4()

    cursor = encode_sorted_cursor(sort, values, id)

    assert len(cursor) <= SORTED_CURSOR_MAX_LENGTH
    assert decode_sorted_cursor(cursor, sort) == (values, id)


@pytest.mark.parametrize(
    "raw",
    [b"[1,2,3]", b'["s",[1],5]', b'["s",{},"' + b"0" * 32 + b'"]', b"[]", b"\xff", b"[" * 3000],
    ids=["no sort", "an id not hex", "values not a list", "empty", "not text", "deep"],
)
def test_what_is_no_cursor_is_refused_naming_cursor(raw: bytes) -> None:
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with pytest.raises(InvalidCursor) as refused:
        decode_sorted_cursor(cursor, "s")
    assert (refused.value.field, refused.value.location) == ("cursor", "query")


def test_a_cursor_of_another_sort_is_refused() -> None:
    cursor = encode_sorted_cursor("priority", [3], uuid.uuid4())
    with pytest.raises(InvalidCursor, match="sort='priority', not of sort='-priority'"):
        decode_sorted_cursor(cursor, "-priority")
