"""The gateway's own DeepSeek tokenizer gives exactly the ids of Hugging Face's tokenizers on tokenizer.json."""

from __future__ import annotations

import importlib.metadata
import json
import random
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from services.tokenizer import _SEARCH_WINDOW, TABLE, DeepSeekTokenizer
from services.usage import TokenCounter
from tests.helpers import _tokenizer as reference
from tests.unit.token_corpus import EMOJI, ODD, SPACES, SPECIAL, corpus

ours = DeepSeekTokenizer.load()


def reference_ids(text: str) -> list[int]:
    return reference().encode(text, add_special_tokens=False).ids


def first_difference(text: str) -> str:
    """Where two id sequences part, with the text around it, for a readable failure."""
    mine, theirs = ours.encode(text), reference_ids(text)
    at = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b), min(len(mine), len(theirs)))
    return f"ids differ at {at}: ours {mine[at:at + 5]}, tokenizers {theirs[at:at + 5]}"


def test_the_corpus_gets_the_same_ids_token_for_token():
    text = corpus()
    assert ours.encode(text) == reference_ids(text), first_difference(text)


def test_every_code_point_gets_the_same_ids():
    # All of Unicode in order: each character class as the tokenizers crate's regex engine sees it.
    text = "".join(map(chr, [*range(0xD800), *range(0xE000, 0x110000)]))
    assert ours.encode(text) == reference_ids(text), first_difference(text)


def test_the_table_was_built_with_the_installed_regex_module():
    # The table lists code points the regex module's Unicode has and the crate's lacks: a new regex needs
    # bin/build-token-table run again.
    trailer_size = int.from_bytes(TABLE.read_bytes()[-4:], "little")
    built_with = json.loads(TABLE.read_bytes()[-4 - trailer_size:-4])["regex"]
    assert built_with == importlib.metadata.version("regex")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(), st.sampled_from(SPECIAL + SPACES + EMOJI + ODD), st.from_regex(r"\d{1,12}"),
                          st.text(alphabet=st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Z"]))),
                max_size=12).map("".join))
def test_random_text_gets_the_same_ids(text):
    assert ours.encode(text) == reference_ids(text)


def test_the_counter_counts_as_the_tokenizer_does():
    text = corpus(seed=7, size=20_000)
    assert TokenCounter().count(text) == len(reference_ids(text)) and TokenCounter().count("") == 0


def test_a_piece_too_long_to_merge_exactly_is_counted_within_a_percent():
    # No language has a 400,000-character word; a run of one letter or of base64 does, and merging it exactly
    # took seconds per 100,000 characters, so the counter estimates it from its start.
    rng = random.Random(3)
    for text in ("a" * 400_000, "".join(rng.choice(string.ascii_letters) for _ in range(400_000))):
        exact = len(reference_ids(text))
        assert abs(TokenCounter().count(text) - exact) <= exact / 100, text[:20]


def test_a_text_searched_in_windows_gets_the_same_ids_and_lets_others_run():
    # Added tokens straddle the search windows' edges: the ids must not depend on where a window ends.
    pad = "x" * (_SEARCH_WINDOW - 3)
    text = (pad + SPECIAL[0] + " word ") * 3 + "<" * 50 + "tail"
    pauses = []
    ids = [token_id for run in ours.runs(text, pause=lambda: pauses.append(1)) for token_id in run]
    assert ids == reference_ids(text), first_difference(text)
    assert len(pauses) >= 3  # a search over three windows' worth of text let the hub run between them
