"""WordNet for METEOR from Debian's ``wordnet-base`` (``/usr/share/wordnet``), with no download.

Debian ships WordNet 3.0's database files but not the ``lexnames`` table that NLTK's reader opens;
the table is fixed by WordNet 3.0 (see ``lexnames(5WN)``) and is supplied here. NLTK 3.10 only
opens paths under its data roots, so the directory is added to ``nltk.data.path``.

NLTK's reader keeps every synset it has read for its lifetime, and METEOR reads the synsets of
every word it scores: a service scoring new text drifts up to all of WordNet (117,659 synsets
raised RSS 183 -> 498 MiB; emptying the cache gave back all but 8 MiB). :meth:`bounded` empties
the cache once no call is using it and it holds more than :data:`MAX_CACHED_SYNSETS` (memoization
only: scores are the same; reading a synset again costs ~60 us).
"""

from __future__ import annotations

import contextlib
import functools
import io
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_WORDNET_DIR = Path("/usr/share/wordnet")
#: Synsets the reader may keep between calls: ~20,000 synsets are ~45 MiB of RSS.
MAX_CACHED_SYNSETS = 20_000

_LEXNAMES = [
    ("adj.all", 3), ("adj.pert", 3), ("adv.all", 4), ("noun.Tops", 1), ("noun.act", 1), ("noun.animal", 1),
    ("noun.artifact", 1), ("noun.attribute", 1), ("noun.body", 1), ("noun.cognition", 1),
    ("noun.communication", 1), ("noun.event", 1), ("noun.feeling", 1), ("noun.food", 1), ("noun.group", 1),
    ("noun.location", 1), ("noun.motive", 1), ("noun.object", 1), ("noun.person", 1), ("noun.phenomenon", 1),
    ("noun.plant", 1), ("noun.possession", 1), ("noun.process", 1), ("noun.quantity", 1), ("noun.relation", 1),
    ("noun.shape", 1), ("noun.state", 1), ("noun.substance", 1), ("noun.time", 1), ("verb.body", 2),
    ("verb.change", 2), ("verb.cognition", 2), ("verb.communication", 2), ("verb.competition", 2),
    ("verb.consumption", 2), ("verb.contact", 2), ("verb.creation", 2), ("verb.emotion", 2), ("verb.motion", 2),
    ("verb.perception", 2), ("verb.possession", 2), ("verb.social", 2), ("verb.stative", 2), ("verb.weather", 2),
    ("adj.ppl", 3),
]
LEXNAMES_TEXT = "".join(f"{i:02d}\t{name}\t{cat}\n" for i, (name, cat) in enumerate(_LEXNAMES))


@functools.lru_cache(maxsize=4)
def load_wordnet(directory: str | Path = DEFAULT_WORDNET_DIR) -> Any:
    """Return an NLTK WordNet reader over ``directory`` (cached; the first call reads ~28 MB lazily).

    Raises FileNotFoundError naming the directory when ``data.noun`` is missing there.
    """
    import nltk.data
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    root = Path(directory)
    if not (root / "data.noun").is_file():
        raise FileNotFoundError(f"{root}: no WordNet database (install Debian's wordnet-base)")
    if str(root) not in nltk.data.path:
        nltk.data.path.append(str(root))

    class _DebianWordNet(WordNetCorpusReader):  # type: ignore[misc]
        def open(self, file: str) -> Any:
            if file == "lexnames" and not (root / "lexnames").exists():
                return io.StringIO(LEXNAMES_TEXT)
            return super().open(file)

        def map_wn(self, version: str = "wordnet") -> None:
            # Debian ships WordNet 3.0 itself: no mapping to another version (which needs index.sense).
            return None

        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.users, self.users_lock = 0, threading.Lock()

        @contextlib.contextmanager
        def bounded(self, max_synsets: int | None = None) -> Iterator[Any]:
            """Use the reader within the block; the last concurrent user to leave empties its synset
            cache when it holds more than ``max_synsets`` (default :data:`MAX_CACHED_SYNSETS`). Never
            while another call reads it: NLTK checks the cache, then reads it."""
            with self.users_lock:
                self.users += 1
            try:
                yield self
            finally:
                with self.users_lock:
                    self.users -= 1
                    limit = MAX_CACHED_SYNSETS if max_synsets is None else max_synsets
                    if self.users == 0 and cached_synsets(self) > limit:
                        self._synset_offset_cache.clear()

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The multilingual functions")
        return _DebianWordNet(str(root), None)


def cached_synsets(reader: Any) -> int:
    """Synsets ``reader`` holds in its cache."""
    return sum(len(by_offset) for by_offset in reader._synset_offset_cache.values())
