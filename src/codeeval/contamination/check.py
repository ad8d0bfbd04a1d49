"""The contamination check: every training example against every suite item, prompts and reference
solutions separately.

An item side (its prompt: the prompt fields joined by newlines, plus ``prompt_code`` when no field
holds it; or its reference) is contaminated when

- **exact**: its normalised text equals a training text (an example's joined fields, one of its
  fields, or its target), or
- **n-gram**: any of its n-grams of words (:class:`~codeeval.contamination.ngrams.Settings`, 13 by
  default) appears in a training example (in its joined fields or in its target).

A side with fewer than n words gets the exact check only and is listed as short. A side with no
text (an item without a reference) is listed as absent and never contaminated.

The result has a state (:data:`Status`): ``clean`` (every training source was read and nothing
matched), ``contaminated`` (at least one item matched; certain even when a source could not be
read), or ``unknown`` (no training data, or a source could not be read and nothing matched in the
others: an absence of evidence is not reported as clean). Per task it gives the contaminated ids
and :meth:`TaskResult.clean_ids`, the subset a report computes its metrics on beside the full set.

Cost: the suite is indexed once (linear in its tokens); the training data are streamed in batches
of :data:`BATCH` examples, each scanned with one vectorised pass (bench/contamination measures
40,000 examples against 1,000 items); memory holds the suite's index and one batch, never the
training data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from codeeval.contamination.ngrams import NgramIndex, Settings, exact_key, tokens, words
from codeeval.data import Example, Item, Source, iter_items

Status = Literal["clean", "contaminated", "unknown"]
Side = Literal["prompt", "reference"]
SIDES: tuple[Side, ...] = ("prompt", "reference")
BATCH = 2000


@dataclass(frozen=True)
class SuiteText:
    """One suite item as the check sees it."""

    task: str
    id: str
    prompt: str
    reference: str


def item_text(item: Item, task: str) -> SuiteText:
    """The prompt (fields joined by newlines, then ``prompt_code`` unless a field is it) and the
    reference solution: the item's reference without ``prompt_code`` when it starts with it (a
    HumanEval reference is prompt + canonical solution; the solution side is what the model writes)."""
    fields = [v for v in item.fields.values() if v]
    if item.prompt_code and item.prompt_code not in fields:
        fields.append(item.prompt_code)
    reference = item.reference
    if item.prompt_code and reference.startswith(item.prompt_code):
        reference = reference[len(item.prompt_code):]
    return SuiteText(task, item.id, "\n".join(fields), reference)


def example_texts(example: Example) -> tuple[str, str]:
    """(prompt side, target) of a training example: its fields joined by newlines, and its target."""
    return "\n".join(v for v in example.fields.values() if v), example.target


@dataclass(frozen=True)
class Match:
    """Where an item side was first found: training source, example index in it, exact or n-gram."""

    source: str
    example: int
    kind: Literal["exact", "ngram"]

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "example": self.example, "kind": self.kind}


@dataclass
class TaskResult:
    """One suite task: its item ids and, per side, the contaminated, short and absent ids."""

    task: str
    ids: list[str]
    status: Status = "unknown"
    contaminated: dict[Side, list[str]] = field(default_factory=lambda: {"prompt": [], "reference": []})
    short: dict[Side, list[str]] = field(default_factory=lambda: {"prompt": [], "reference": []})
    absent: dict[Side, list[str]] = field(default_factory=lambda: {"prompt": [], "reference": []})
    matches: dict[str, dict[Side, Match]] = field(default_factory=dict)

    def contaminated_ids(self) -> list[str]:
        """Items contaminated on either side, in suite order."""
        bad = set(self.contaminated["prompt"]) | set(self.contaminated["reference"])
        return [i for i in self.ids if i in bad]

    def clean_ids(self) -> list[str] | None:
        """The items neither side of which matched, in suite order; None when the state is unknown
        (a clean subset is never claimed without the training data)."""
        if self.status == "unknown":
            return None
        bad = set(self.contaminated_ids())
        return [i for i in self.ids if i not in bad]

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "status": self.status, "items": len(self.ids),
                "contaminated": {s: {"count": len(v), "ids": v} for s, v in self.contaminated.items()},
                "contaminated_any": self.contaminated_ids(), "clean_ids": self.clean_ids(),
                "short": self.short, "absent": self.absent,
                "matches": {i: {s: m.to_json() for s, m in by_side.items()} for i, by_side in self.matches.items()}}


@dataclass
class SourceReport:
    """One training source: examples read, a sha256 of what was read, and why it is incomplete."""

    label: str
    examples: int = 0
    sha256: str = ""
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "examples": self.examples, "sha256": self.sha256, "error": self.error}


@dataclass
class ContaminationResult:
    """The whole check: state, settings, per-task results, the sources read and why it is unknown."""

    status: Status
    settings: Settings
    tasks: dict[str, TaskResult]
    sources: list[SourceReport]
    reason: str = ""

    def clean_ids(self, task: str) -> list[str] | None:
        """The task's clean subset (None: unknown, or a task the check did not see)."""
        result = self.tasks.get(task)
        return result.clean_ids() if result is not None else None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "settings": self.settings.to_json(),
                "sources": [s.to_json() for s in self.sources],
                "tasks": {name: t.to_json() for name, t in self.tasks.items()}}


@dataclass(frozen=True)
class TrainingSource:
    """Training data to compare: a data-layer ``source`` read through :mod:`codeeval.data` (at most
    ``limit`` examples, skipping those with an empty field or target as the trainer does), or
    ``examples`` given directly; ``unavailable`` says why there is neither."""

    label: str
    source: Source | None = None
    limit: int | None = None
    examples: Sequence[Example] | None = None
    unavailable: str = ""

    def iter_examples(self) -> Iterator[Example]:
        """The examples (codeeval.data errors propagate: the caller records them)."""
        if self.examples is not None:
            yield from self.examples[: self.limit] if self.limit else self.examples
            return
        if self.source is None:
            return
        kept = 0
        for item in iter_items(self.source):
            if self.limit is not None and kept >= self.limit:
                return
            example = Example.from_item(item, self.label)
            # the trainer's rule: an example with an empty field or target is skipped, not counted
            if example.target.strip() and all(v.strip() for v in example.fields.values()):
                kept += 1
                yield example


class SuiteIndex:
    """The suite's exact keys and n-grams, per side, built once; :meth:`scan` takes training batches."""

    def __init__(self, items: Sequence[SuiteText], settings: Settings) -> None:
        self.items = list(items)
        self.settings = settings
        self.exact: dict[str, list[tuple[int, Side]]] = {}
        self.keys: dict[tuple[int, Side], str] = {}
        self.ngrams = NgramIndex(settings.n)
        self.short: set[tuple[int, Side]] = set()
        self.absent: set[tuple[int, Side]] = set()
        self.found: dict[tuple[int, Side], Match] = {}
        for i, it in enumerate(self.items):
            for s, side in enumerate(SIDES):
                text = it.prompt if side == "prompt" else it.reference
                if not text.strip():
                    self.absent.add((i, side))
                    continue
                key = exact_key(text, tokens(text, settings), settings)
                self.keys[(i, side)] = key
                self.exact.setdefault(key, []).append((i, side))
                if not self.ngrams.add(2 * i + s, words(text, settings)):
                    self.short.add((i, side))
        self.ngrams.freeze()

    def _key(self, text: str) -> str:
        return exact_key(text, tokens(text, self.settings), self.settings)

    def scan(self, label: str, first: int, batch: Sequence[Example]) -> None:
        """Compare a batch (examples ``first``.. of source ``label``) with every item, both checks.

        Equal exact keys imply equal words, so a training text of n words or more equals only items
        the n-gram check finds anyway: the exact lookup runs on shorter texts (which can equal a short
        item), and an n-gram hit is labelled ``exact`` when the whole texts are equal."""
        n = self.settings.n
        texts: list[list[str]] = []
        raw: list[str] = []
        for k, example in enumerate(batch):
            prompt, target = example_texts(example)
            fields = [v for v in example.fields.values() if v] if len(example.fields) > 1 else []
            for j, text in enumerate([prompt, target, *fields]):
                toks = words(text, self.settings)
                if j < 2:
                    texts.append(toks)
                    raw.append(text)
                if len(toks) < n:
                    for i, side in self.exact.get(self._key(text), ()):
                        self.found.setdefault((i, side), Match(label, first + k, "exact"))
        for hit in self.ngrams.scan(texts, retire=True):
            i, s = divmod(hit.key, 2)
            if (i, SIDES[s]) in self.found:
                continue
            kind: Literal["exact", "ngram"] = "exact" if self._key(raw[hit.text]) == self.keys[(i, SIDES[s])] \
                else "ngram"
            self.found[(i, SIDES[s])] = Match(label, first + hit.text // 2, kind)

    def task_results(self, status_of_clean: Status) -> dict[str, TaskResult]:
        """Per-task results; an item side matched makes its task contaminated, else ``status_of_clean``."""
        out: dict[str, TaskResult] = {}
        for i, it in enumerate(self.items):
            result = out.setdefault(it.task, TaskResult(it.task, []))
            result.ids.append(it.id)
            for side in SIDES:
                if (i, side) in self.absent:
                    result.absent[side].append(it.id)
                if (i, side) in self.short:
                    result.short[side].append(it.id)
                match = self.found.get((i, side))
                if match is not None:
                    result.contaminated[side].append(it.id)
                    result.matches.setdefault(it.id, {})[side] = match
        for result in out.values():
            result.status = "contaminated" if result.contaminated_ids() else status_of_clean
        return out


def _digest(digest: Any, example: Example) -> None:
    prompt, target = example_texts(example)
    digest.update(prompt.encode("utf-8", "surrogatepass"))
    digest.update(b"\x00")
    digest.update(target.encode("utf-8", "surrogatepass"))
    digest.update(b"\x01")


def examples_sha256(examples: Iterable[Example]) -> str:
    """The sha256 of training examples in order, as :class:`SourceReport` records what the check read
    (each example's joined fields, NUL, target, 0x01); the trainer records the same per task as
    ``data_sha256``, so equal hashes mean the check compared exactly the examples trained on."""
    digest = hashlib.sha256()
    for example in examples:
        _digest(digest, example)
    return digest.hexdigest()


def check(items: Iterable[SuiteText], sources: Sequence[TrainingSource], settings: Settings | None = None,
          reason_if_none: str = "no training data given") -> ContaminationResult:
    """Compare every example of ``sources`` with every item. A source that cannot be read (its
    ``unavailable`` reason, or a data-layer/OS error while reading) is recorded with the error; what
    it gave before failing was still compared. See the module docstring for the states."""
    settings = settings or Settings()
    index = SuiteIndex(list(items), settings)
    reports: list[SourceReport] = []
    for source in sources:
        report = SourceReport(source.label, error=source.unavailable)
        reports.append(report)
        if source.unavailable:
            continue
        digest = hashlib.sha256()
        batch: list[Example] = []
        try:
            for example in source.iter_examples():
                _digest(digest, example)
                batch.append(example)
                if len(batch) >= BATCH:
                    index.scan(source.label, report.examples, batch)
                    report.examples += len(batch)
                    batch = []
        except (OSError, ValueError, KeyError, TypeError) as exc:  # codeeval.data errors: OSError/ValueError;
            # KeyError/TypeError: a recorded option of the wrong shape (a metadata file edited by hand)
            report.error = f"{type(exc).__name__}: {exc}"
        if batch:
            index.scan(source.label, report.examples, batch)
            report.examples += len(batch)
        report.sha256 = digest.hexdigest()
    failed = [r for r in reports if r.error]
    if not reports:
        reason = reason_if_none
    elif failed:
        reason = "training data not available: " + "; ".join(f"{r.label}: {r.error}" for r in failed)
    else:
        reason = ""
    complete = bool(reports) and not failed
    tasks = index.task_results("clean" if complete else "unknown")
    if any(t.status == "contaminated" for t in tasks.values()):
        status: Status = "contaminated"
    else:
        status = "clean" if complete else "unknown"
    return ContaminationResult(status, settings, tasks, reports, reason)


def suite_texts(items_by_task: Mapping[str, Sequence[Item]]) -> list[SuiteText]:
    """The check's view of a suite's items, keyed by task name (the bench's loaded items)."""
    return [item_text(item, task) for task, items in items_by_task.items() for item in items]
