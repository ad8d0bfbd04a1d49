"""The typed records of the data layer: :class:`Source` (what to read), :class:`Item` (one benchmark
instance, what every reader yields) and :class:`Example` (one training example, derived from an
item for a task)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Source:
    """What to read: a registered ``reader`` over ``path`` (already expanded; a file, a file prefix
    for parallel files, or a folder; None for hub datasets).

    ``language`` is the language of the answer (of the code, for summarization); ``source_language``
    the input language of a translation; ``options`` are the reader's own options (``direction``,
    ``fields``/``target``, ``hf_name``/``hf_config``/``split``) plus ``exclude_ids_file`` (an
    expanded path), which every reader honours.
    """

    reader: str
    path: Path | None = None
    language: str = "python"
    source_language: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Item:
    """One benchmark instance; ``id`` is unique within its source.

    ``fields`` fill the task prompt's placeholders; ``reference`` is the gold answer (for scoring,
    and the training target); ``test`` and ``entry_point`` go to the sandbox as they are (Python:
    ``check(entry_point)`` is called after the test when entry_point is set; Java: entry_point is
    the test class); ``prompt_code`` is code the answer completes (a HumanEval prompt);
    ``function`` is the function/method the answer must define; ``source`` is the model's input
    code, for the leakage check.
    """

    id: str
    fields: dict[str, str]
    reference: str = ""
    test: str = ""
    entry_point: str = ""
    prompt_code: str = ""
    function: str = ""
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Example:
    """One training example of ``task``: the task prompt's ``fields`` and the completion ``target``."""

    task: str
    fields: dict[str, str]
    target: str

    @classmethod
    def from_item(cls, item: Item, task: str) -> Example:
        """The example an item gives: its prompt fields, and its reference as the target."""
        return cls(task, dict(item.fields), item.reference)
