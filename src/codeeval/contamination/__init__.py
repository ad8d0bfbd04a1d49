"""codeeval.contamination: did the checkpoint see the benchmark? A contamination check of training
data against a suite, and the provenance of an adapter.

- :mod:`~codeeval.contamination.ngrams`: normalisation settings, tokens, the n-gram index;
- :mod:`~codeeval.contamination.check`: the comparison and its typed result (states ``clean``,
  ``contaminated``, ``unknown``; per task, per side, ids, short items, clean subset);
- :mod:`~codeeval.contamination.provenance`: ``codeeval_adapter.json`` as a typed record
  (``unknown`` without it), the training sources it names (readers outside :mod:`codeeval.data`,
  the trainer's ``mined``, through the ``codeeval.readers`` entry points), the diff of two mixtures;
- :mod:`~codeeval.contamination.subset`: a results task's metrics recomputed on a subset of items
  (the clean subset), with the aggregations the results use.

The bench's call, with the items it has loaded per task (:func:`codeeval.suites.read_items`)::

    from codeeval.contamination import check_adapter
    result = check_adapter(items_by_task, adapter_dir)     # or a Provenance already read
    result.status                      # "clean" | "contaminated" | "unknown"
    result.clean_ids(task_name)        # the clean subset's ids, or None when unknown
    result.tasks[task_name].contaminated["prompt" | "reference"]   # ids per side
    result.to_json()                   # what a results file records (settings included)

Every metric can then be computed on ``clean_ids`` beside the full set; a None clean subset means
"contamination unknown" and must be shown as such, never as clean. ``codeeval bench`` records
:func:`bench_record` (``provenance`` and ``contamination``) in each adapter variant's results.json;
:mod:`codeeval.pipeline.contamination_view` turns them into the report's sections (clean-subset
metrics and tests, provenance, mixture differences) and headline notes.

This package imports :mod:`codeeval.data`, :mod:`codeeval.stats` and :mod:`codeeval.kit` only (never
a service, statically, or the suites: the caller loads the items). Cost: see
:mod:`~codeeval.contamination.check`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from codeeval.contamination.check import (
    ContaminationResult,
    SourceReport,
    SuiteText,
    TaskResult,
    TrainingSource,
    check,
    item_text,
    suite_texts,
)
from codeeval.contamination.ngrams import Settings
from codeeval.contamination.provenance import (
    MixtureDelta,
    MixtureEntry,
    Provenance,
    mixture_diff,
    read_provenance,
    training_sources,
)
from codeeval.data import Item

__all__ = ["ContaminationResult", "MixtureDelta", "MixtureEntry", "Provenance", "Settings", "SourceReport",
           "SuiteText", "TaskResult", "TrainingSource", "bench_record", "check", "check_adapter", "item_text",
           "mixture_diff", "read_provenance", "suite_texts", "training_sources"]


def check_adapter(items_by_task: Mapping[str, Sequence[Item]], adapter: Path | Provenance,
                  settings: Settings | None = None, hub: bool = False) -> ContaminationResult:
    """The check of a suite's items against the training data an adapter's metadata names.
    An adapter without metadata gives state ``unknown`` with the provenance's reason; hub datasets
    are read only with ``hub`` (see :func:`training_sources`)."""
    provenance = adapter if isinstance(adapter, Provenance) else read_provenance(adapter)
    reason = provenance.reason or "the adapter's metadata names no training sources"
    return check(suite_texts(items_by_task), training_sources(provenance, hub), settings, reason_if_none=reason)


def bench_record(items_by_task: Mapping[str, Sequence[Item]], adapter: Path) -> dict[str, Any]:
    """What a bench run records for an adapter variant: ``{"provenance": ..., "contamination": ...}``
    (both JSON). An adapter that is not a folder here (a hub id, a path only the generator sees) has
    unknown provenance and unknown contamination, with that reason."""
    if adapter.is_dir():
        provenance = read_provenance(adapter)
    else:
        provenance = Provenance("unknown", str(adapter), f"provenance unknown: {adapter} is not a folder on this "
                                "machine (the generator resolved it)")
    return {"provenance": provenance.to_json(), "contamination": check_adapter(items_by_task, provenance).to_json()}
