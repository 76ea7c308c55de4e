"""Slugs (`slug(title)`): a row's text made into a stable, readable key for its URL.

Lower-case ASCII words joined by `-` (`"Héllo, World!"` -> `hello-world`), made once at
create and never changed by updates, so a link stays valid. A slug another row has takes the
next free suffix (`hello-world-2`, `-3`, ...): the repository tries the plain one first (one
statement), and on a clash, also one that a concurrent create won, reads the taken ones and
tries again (`Repository.create`).
"""

import re
import unicodedata
from collections.abc import Sequence

SLUG_MAX_LENGTH = 80
"""Of the words taken from the text; a suffix (`-12`) may follow."""
EMPTY_SLUG = "untitled"
"""The slug of a text without one ASCII letter or digit (`"!!!"`, `"日本"`)."""
_WORD = re.compile(r"[a-z0-9]+")


def slugify(text: str) -> str:
    """`text` as lower-case ASCII words joined by `-`, cut at a word within the bound."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = ""
    for word in _WORD.findall(ascii_text.lower()):
        joined = f"{slug}-{word}" if slug else word
        if len(joined) > SLUG_MAX_LENGTH:
            slug = slug or word[:SLUG_MAX_LENGTH]
            break
        slug = joined
    return slug or EMPTY_SLUG


def next_free(base: str, taken: Sequence[str]) -> str:
    """`base`, or `base-N` with N past every suffix `taken` holds (`base-2` first)."""
    if base not in taken:
        return base
    numbered = (re.fullmatch(rf"{re.escape(base)}-(\d+)", slug) for slug in taken)
    return f"{base}-{max([1, *(int(found[1]) for found in numbered if found)]) + 1}"
