"""Normalisation, tokens and the suite's n-gram index: the fast half of the contamination check.

Contract:

- :class:`Settings` are the check's knobs (``n``, whitespace, comments, case); they are recorded
  with every result, so two results are comparable only when their settings are equal.
- :func:`words` are the n-gram check's tokens: the identifier/number runs (``\\w+``) of the
  normalised text; punctuation and whitespace are dropped, as the GPT-3 decontamination dropped
  punctuation, so that 13 tokens are 13 words of code or prose (13 punctuation-split tokens would
  be as little as ``[1.0, 2.0, 3.0``, which many unrelated docstrings share).
- :func:`tokens` (words and single punctuation characters) are what the exact check compares:
  whitespace never matters to it unless ``Settings.whitespace`` is False; punctuation always does.
- :class:`NgramIndex` holds the n-grams of many texts (a suite's prompts or references) as 64-bit
  polynomial hashes over token ids, in one sorted numpy array plus a dict from hash to the
  (text, position) pairs that have it. :meth:`NgramIndex.scan` probes a batch of training texts
  at once and verifies every hash hit token by token, so a hash collision never reports a match.

Cost: indexing is linear in the indexed tokens; a scan is linear in the scanned tokens (n vectorised
multiply-adds per token, one binary search per window), plus a token-by-token verification of each
hash hit (once per indexed text when the caller retires what it found: :meth:`NgramIndex.retire`).
Tokens absent from the index's vocabulary map to id 0, which no indexed n-gram contains.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD = re.compile(r"\w+")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_LINE_COMMENT = re.compile(r"(//|#)[^\n]*")
_BASE = np.uint64(0x100000001B3)  # FNV prime: odd, so the multiply-add keeps the token ids' information
MIN_N = 1
MAX_N = 64


@dataclass(frozen=True)
class Settings:
    """How texts are compared.

    ``n``: words per n-gram (13, as in the decontamination of large language-model corpora);
    ``whitespace``: the exact check ignores whitespace (compares token sequences) when True, else
    compares the texts as they are after the other rules; ``comments``: remove ``/* */``, ``//`` and
    ``#`` comments before comparing (a lexical rule applied to every text alike, not a parser: it
    also cuts a Python ``//`` or a ``#`` inside a string, the same way on both sides);
    ``lowercase``: compare case-insensitively.
    """

    n: int = 13
    whitespace: bool = True
    comments: bool = False
    lowercase: bool = False

    def __post_init__(self) -> None:
        if not MIN_N <= self.n <= MAX_N:
            from codeeval.kit.errors import InvalidArgument

            raise InvalidArgument(f"{self.n} is outside {MIN_N}..{MAX_N}", field="n")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def normalise(text: str, settings: Settings) -> str:
    """``text`` after the comment and case rules (whitespace is handled by :func:`exact_key`)."""
    if settings.comments:
        text = _LINE_COMMENT.sub("", _BLOCK_COMMENT.sub(" ", text))
    return text.lower() if settings.lowercase else text


def tokens(text: str, settings: Settings) -> list[str]:
    """The tokens of ``text`` after :func:`normalise`."""
    return _TOKEN.findall(normalise(text, settings))


def words(text: str, settings: Settings) -> list[str]:
    """The n-gram check's tokens of ``text`` after :func:`normalise`: its ``\\w+`` runs."""
    return _WORD.findall(normalise(text, settings))


def exact_key(text: str, toks: Sequence[str], settings: Settings) -> str:
    """What the exact check compares: the tokens joined by one space (whitespace ignored), or the
    normalised text with only its ends stripped when ``settings.whitespace`` is False."""
    if settings.whitespace:
        return " ".join(toks)
    return normalise(text, settings).strip()


def window_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """The hash of every window of ``n`` consecutive ids (uint64 arithmetic wraps by design)."""
    m = len(ids) - n + 1
    if m <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = np.zeros(m, dtype=np.uint64)
    for k in range(n):
        h = h * _BASE + ids[k: k + m]
    return h


@dataclass(frozen=True)
class Hit:
    """Indexed text ``key`` shares the n-gram at its ``position`` with scanned text ``text``."""

    key: int
    text: int
    position: int


class NgramIndex:
    """The n-grams of the indexed texts (keys are the caller's integers), verified on every hit."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.vocab: dict[str, int] = {}
        self._ids: dict[int, np.ndarray] = {}
        self._where: dict[int, list[tuple[int, int]]] = {}
        self._sorted = np.zeros(0, dtype=np.uint64)

    def ids(self, toks: Sequence[str], grow: bool = False) -> np.ndarray:
        """Token ids; unknown tokens become 0 unless ``grow`` adds them to the vocabulary."""
        if grow:
            vocab = self.vocab
            return np.fromiter((vocab.setdefault(t, len(vocab) + 1) for t in toks), dtype=np.uint64,
                               count=len(toks))
        get = self.vocab.get
        return np.fromiter((get(t, 0) for t in toks), dtype=np.uint64, count=len(toks))

    def add(self, key: int, toks: Sequence[str]) -> bool:
        """Index the n-grams of one text; False (nothing indexed) when it has fewer than n tokens."""
        if len(toks) < self.n:
            return False
        ids = self.ids(toks, grow=True)
        self._ids[key] = ids
        for pos, h in enumerate(window_hashes(ids, self.n).tolist()):
            self._where.setdefault(h, []).append((key, pos))
        return True

    def freeze(self) -> None:
        """Build the sorted hash array :meth:`scan` searches (call after the last :meth:`add`)."""
        self._sorted = np.array(sorted(self._where), dtype=np.uint64)

    def retire(self, key: int) -> None:
        """Forget ``key``'s n-grams: later scans neither report nor verify it (a caller that needs
        one hit per key retires it on its first, so n-grams shared by many texts cost once)."""
        ids = self._ids.pop(key, None)
        if ids is None:
            return
        for pos, h in enumerate(window_hashes(ids, self.n).tolist()):
            entries = self._where.get(h)
            if entries is not None:
                entries[:] = [e for e in entries if e != (key, pos)]

    def scan(self, texts: Sequence[Sequence[str]], retire: bool = False) -> list[Hit]:
        """Every verified (indexed text, scanned text) pair sharing an n-gram, one hit per pair per
        batch (the first position found); with ``retire``, one hit per indexed text, which is then
        retired. ``texts`` are token lists; one call is one vectorised batch."""
        n = self.n
        if not len(self._sorted) or not texts:
            return []
        parts: list[np.ndarray] = []
        starts = np.zeros(len(texts), dtype=np.int64)
        offset = 0
        sep = np.zeros(n - 1, dtype=np.uint64)  # windows across two texts contain a 0 and match nothing
        for i, toks in enumerate(texts):
            starts[i] = offset
            parts.append(self.ids(toks))
            parts.append(sep)
            offset += len(toks) + n - 1
        flat = np.concatenate(parts)
        hashes = window_hashes(flat, n)
        if not len(hashes):
            return []
        found = np.searchsorted(self._sorted, hashes)
        found[found == len(self._sorted)] = 0
        positions = np.nonzero(self._sorted[found] == hashes)[0]
        hits: list[Hit] = []
        seen: set[tuple[int, int]] = set()
        for p in positions.tolist():
            entries = self._where[int(hashes[p])]
            if not entries:
                continue
            text = int(np.searchsorted(starts, p, side="right")) - 1
            window = flat[p: p + n]
            for key, pos in list(entries):
                if (key, text) in seen or not np.array_equal(self._ids[key][pos: pos + n], window):
                    continue
                seen.add((key, text))
                hits.append(Hit(key, text, pos))
                if retire:
                    self.retire(key)
        return hits
