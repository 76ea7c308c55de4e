"""Slugs as `slug(title)` makes them (src/core/slugs.py): the words kept, the bound, the
suffix that follows every one taken."""

import pytest

from src.core.slugs import EMPTY_SLUG, SLUG_MAX_LENGTH, next_free, slugify


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Héllo, World!", "hello-world"),
        ("  Ünïcödé  ---  TÉXT 42 ", "unicode-text-42"),
        ("snake_case and CamelCase", "snake-case-and-camelcase"),
        ("日本語 only", "only"),
        ("!!!", EMPTY_SLUG),
        ("", EMPTY_SLUG),
    ],
)
def test_a_slug_is_lower_case_ascii_words_joined_by_dashes(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_a_long_text_is_cut_at_a_word_within_the_bound() -> None:
    words = " ".join(["word"] * 40)  # 199 characters
    slug = slugify(words)
    assert len(slug) <= SLUG_MAX_LENGTH
    assert slug == "-".join(["word"] * 16)  # 16 words are 79 characters; a 17th is 84
    assert slugify("x" * 200) == "x" * SLUG_MAX_LENGTH  # one word longer than the bound


@pytest.mark.parametrize(
    ("taken", "free"),
    [
        ([], "post"),
        (["post-2"], "post"),  # the plain one is free again
        (["post"], "post-2"),
        (["post", "post-2", "post-10", "post-ab", "poster-11"], "post-11"),
    ],
)
def test_the_next_free_slug_follows_every_suffix_taken(taken: list[str], free: str) -> None:
    assert next_free("post", taken) == free
