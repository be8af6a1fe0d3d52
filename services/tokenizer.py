"""DeepSeek's tokenizer, exactly as tokenizer.json defines it, from a compact table of its merges."""

from __future__ import annotations

import functools
import heapq
import json
import sys
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path

import regex

# Derived from DeepSeek's tokenizer.json (MIT licence) by bin/build-token-table.
TABLE = Path(__file__).with_name("data") / "deepseek_merges.bin"
MAGIC = b"DSMERGE1"


def _pre_tokenizer(newer: dict[str, list[list[int]]]) -> tuple[regex.Pattern, regex.Pattern]:
    """tokenizer.json's Split patterns, as splitters that keep the matches, minus code points its engine lacks."""
    # Its three Split(Isolated) steps cut every piece of the step before into matches and the text between.
    # The first two run as one: digits and those kana and ideographs never overlap, nor do their matches.
    def members(name: str, unicode: str) -> str:
        ranges = "".join(f"\\U{first:08x}-\\U{last:08x}" for first, last in newer[name])
        return f"[{unicode}--[{ranges}]]" if ranges else unicode
    letter, mark, digit = members("L", r"\p{L}"), members("M", r"\p{M}"), members("N", r"\p{N}")
    punctuation, symbol, space = members("P", r"\p{P}"), members("S", r"\p{S}"), members("space", r"\s")
    return (regex.compile(f"(?V1)({digit}{{1,3}}|[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+)"),
            regex.compile("(?V1)([!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+"
                          f"|[^\r\n{letter}{punctuation}{symbol}]?[{letter}{mark}]+"
                          f"| ?[{punctuation}{symbol}]+[\r\n]*|[{space}]*[\r\n]+|[{space}]+(?![^{space}])|[{space}]+)"))


# Ids and merge ranks are below 2**17, so a pair (or a rank with its merged id) packs into one int.
_BITS = 17
_ID = (1 << _BITS) - 1
# Distinct pieces remembered with their ids: natural text repeats its words, so most pieces are looked up.
_CACHED_PIECES = 8192
# Characters searched for added tokens in one go before the hub may run others (about 10 ms of regex search).
_SEARCH_WINDOW = 1 << 17
# Characters in a piece beyond which merging it (about 1 ms per 1000 characters) is worth a thread's hop.
_LONG_PIECE = 2000


class _AddedTokens:
    """One set of added tokens, found as the tokenizers crate does: leftmost, then longest."""

    def __init__(self, ids: dict[str, int]):
        self._ids = ids
        # A regex alternation of the 1237 tokens costs 8 MB: only their first few characters (as many as the
        # shortest has) are searched for, then the lengths that start so are tried (code is full of "<").
        self._head = min((len(token) for token in ids), default=0)
        self._lengths: dict[str, list[int]] = {}
        for token in ids:
            self._lengths.setdefault(token[:self._head], []).append(len(token))
        for lengths in self._lengths.values():
            lengths.sort(reverse=True)
        self._starts = regex.compile("|".join(map(regex.escape, self._lengths))) if ids else None

    def split(self, text: str, pause: Callable[[], None] | None = None) -> Iterator[tuple[str, int | None]]:
        """Text cut at the tokens: (token, id) for each, (text, None) for what lies between; pause() is called
        between windows of a long search (one regex search over 4 MB without a token held the hub 0.1 s)."""
        start = searched = 0
        while self._starts and searched < len(text):
            window_end = min(len(text), searched + _SEARCH_WINDOW)
            # A head that begins inside the window may end past it: the search may read a head's length further.
            candidate = self._starts.search(text, searched, window_end + self._head - 1)
            if candidate is None or candidate.start() >= window_end:
                searched = window_end
                if pause and searched < len(text):
                    pause()
                continue
            at = candidate.start()
            lengths = self._lengths.get(text[at:at + self._head], ())
            token = next((text[at:at + n] for n in lengths if text[at:at + n] in self._ids), None)
            if token is None:
                searched = at + 1
                continue
            if at > start:
                yield text[start:at], None
            yield token, self._ids[token]
            start = searched = at + len(token)
        if start < len(text):
            yield text[start:], None


class DeepSeekTokenizer:
    """Encodes text into DeepSeek token ids: added tokens first, then pre-tokenized pieces by byte-pair merges."""

    def __init__(self, byte_ids: list[int], merges: dict[int, int], added: list[list], newer: dict[str, list]):
        self._byte_ids = byte_ids
        self._merges = merges    # left << 17 | right -> rank << 17 | merged id
        # Added tokens marked normalized are matched only in the text the others left (the crate's two passes).
        self._raw = _AddedTokens({content: token_id for content, token_id, normalized in added if not normalized})
        self._normalized = _AddedTokens({content: token_id for content, token_id, normalized in added if normalized})
        self._splits = _pre_tokenizer(newer)
        self._piece_ids = functools.lru_cache(maxsize=_CACHED_PIECES)(self._merge_piece)

    @classmethod
    def load(cls, path: Path = TABLE) -> DeepSeekTokenizer:
        """Read the table written by bin/build-token-table."""
        data = path.read_bytes()
        if not data.startswith(MAGIC):
            raise ValueError(f"{path} is not a token table (run bin/build-token-table)")
        added_at = len(data) - 4 - int.from_bytes(data[-4:], "little")
        ints = array("I", data[len(MAGIC):added_at])
        if sys.byteorder == "big":
            ints.byteswap()
        lefts, rights, merged = ints[256::3], ints[257::3], ints[258::3]
        merges = {left << _BITS | right: rank << _BITS | new
                  for rank, (left, right, new) in enumerate(zip(lefts, rights, merged))}
        trailer = json.loads(data[added_at:-4].decode("utf-8"))
        return cls(ints[:256].tolist(), merges, trailer["added"], trailer["newer"])

    def encode(self, text: str) -> list[int]:
        """The ids of text, as tokenizers' encode(text, add_special_tokens=False).ids."""
        return [token_id for run in self.runs(text) for token_id in run]

    def runs(self, text: str, offload: Callable | None = None,
             pause: Callable[[], None] | None = None) -> Iterator[tuple[int, ...]]:
        """The ids of text lazily, one tuple per added token or pre-tokenized piece (never empty).

        offload(merge, piece) merges a piece too long to merge at once on this thread, when given; pause() lets
        others run during a long search for added tokens."""
        for segment, token_id in self._segments(text, pause):
            if token_id is not None:
                yield (token_id,)
                continue
            words, pieces = self._splits
            for piece in filter(None, (
                    piece for word in words.splititer(segment) if word for piece in pieces.splititer(word))):
                # One piece is merged in one go: a 5 MB run of one letter takes 15 s, best not on the hub.
                long = offload and len(piece) > _LONG_PIECE
                yield offload(self._merge_piece, piece) if long else self._piece_ids(piece)

    def _segments(self, text: str, pause: Callable[[], None] | None = None) -> Iterator[tuple[str, int | None]]:
        """Text cut at added tokens: (token, id) for each, (text, None) for what lies between."""
        for outer, token_id in self._raw.split(text, pause):
            if token_id is not None:
                yield outer, token_id
            else:
                yield from self._normalized.split(outer, pause)

    def _merge_piece(self, piece: str) -> tuple[int, ...]:
        """A piece's ids: its bytes' symbols merged lowest rank first, leftmost first among equals."""
        ids = list(map(self._byte_ids.__getitem__, piece.encode("utf-8", "surrogatepass")))
        if len(ids) == 1:
            return tuple(ids)
        merges = self._merges
        # The tokenizers crate's queue of (rank, position); entries outdated by a neighbour's merge are skipped.
        queue = [(rank, i) for i, pair in enumerate(zip(ids, ids[1:]))
                 if (rank := merges.get(pair[0] << _BITS | pair[1])) is not None]
        heapq.heapify(queue)
        after = list(range(1, len(ids) + 1))
        before = list(range(-1, len(ids) - 1))
        while queue:
            rank, i = heapq.heappop(queue)
            j = after[i]
            if j >= len(ids) or ids[i] < 0 or merges.get(ids[i] << _BITS | ids[j]) != rank:
                continue
            ids[i], ids[j] = rank & _ID, -1
            k = after[i] = after[j]
            if k < len(ids):
                before[k] = i
                if (next_rank := merges.get(ids[i] << _BITS | ids[k])) is not None:
                    heapq.heappush(queue, (next_rank, i))
            if (h := before[i]) >= 0 and (prev_rank := merges.get(ids[h] << _BITS | ids[i])) is not None:
                heapq.heappush(queue, (prev_rank, h))
        return tuple(token_id for token_id in ids if token_id >= 0)
