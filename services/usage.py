"""Count tokens with DeepSeek's own tokenizer when an upstream reports no usage."""

from __future__ import annotations

import functools
from itertools import islice

from services.events import Usage
from services.offload import hub_pause, run_blocking
from services.prompt import flatten
from services.tokenizer import DeepSeekTokenizer

# Pieces counted between two pauses on the gevent hub: about 2 ms of counting (docs/serving.md).
_PIECES_PER_SLICE = 2000
# Merging is linear in a piece's length at about 3 µs a character: a piece longer than this (no language has
# one; a megabyte of base64 or of one letter does) is counted from _WINDOWS windows spread over it, scaled.
_SAMPLED_PIECE = 100_000
_WINDOWS, _WINDOW = 4, 5_000


@functools.lru_cache(maxsize=1)
def _tokenizer() -> DeepSeekTokenizer:
    """Load the token table, once per process (about 0.1 s)."""
    return DeepSeekTokenizer.load()


def _merge_long(merge, piece: str):
    """A long piece's ids, merged in gevent's threadpool; for a huge one, as many stand-ins as its windows'
    ids scaled to its length (the count reads only how many there are): 5 MB of one letter took 15-35 s."""
    if len(piece) <= _SAMPLED_PIECE:
        return run_blocking(merge, piece)
    step = (len(piece) - _WINDOW) // (_WINDOWS - 1)
    sampled = sum(len(run_blocking(merge, piece[i * step:i * step + _WINDOW])) for i in range(_WINDOWS))
    return range(round(sampled * len(piece) / (_WINDOW * _WINDOWS)))


class TokenCounter:
    """Counts texts with DeepSeek's tokenizer, loaded on first use."""

    def count(self, text: str) -> int:
        """Number of DeepSeek tokens in text; a big text yields to other streams every few milliseconds."""
        if not text:
            return 0
        if _tokenizer.cache_info().currsize == 0:
            run_blocking(_tokenizer)
        # Pure Python holds the GIL, so a thread would not spare the hub: the count pauses between slices of
        # pieces instead, which are independent once pre-tokenized. Only a very long piece goes to a thread,
        # where the GIL changes hands every 5 ms.
        pause, total = hub_pause(), 0
        runs = _tokenizer().runs(text, offload=_merge_long, pause=pause)
        while counted := sum(map(len, islice(runs, _PIECES_PER_SLICE))):
            total += counted
            if pause and counted >= _PIECES_PER_SLICE:  # not after the last slice of a short text
                pause()
        return total

    def prompt(self, messages: list[dict]) -> int:
        """The tokens of the flattened prompt."""
        return self.count(flatten(messages))

    def usage(self, messages: list[dict], content: str, reasoning: str) -> Usage:
        """Usage of one exchange: the flattened prompt, and the answer with its reasoning."""
        reasoning_tokens = self.count(reasoning)
        return Usage(prompt_tokens=self.prompt(messages),
                     completion_tokens=self.count(content) + reasoning_tokens,
                     reasoning_tokens=reasoning_tokens if reasoning else None)
