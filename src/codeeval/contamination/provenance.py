"""Provenance: an adapter's ``codeeval_adapter.json`` (written by the trainer) as a typed record, the
training sources it names, and the difference between two adapters' mixtures.

Contract: :func:`read_provenance` never guesses. An adapter folder without the metadata file, or
with one that is not a JSON object, gives ``Provenance(status="unknown", reason=...)``; a field the
trainer did not record is None (an adapter trained before the trainer recorded data hashes has
``data_sha256`` None; the trainer now records per task the
:func:`~codeeval.contamination.check.examples_sha256` of the examples it read, which the check's
per-source sha256 equals when it compared exactly those examples). A folder that does
not exist is :class:`~codeeval.kit.errors.NotFound` (bad input, not an unknown provenance).

:func:`training_sources` turns the recorded ``config.data.tasks[*].source`` back into data-layer
sources the way the trainer reads them (relative paths beside the trainer's shipped configs,
``${datasets}``/``${stdlib}`` expanded here). It covers every example a source offers up to its
``limit``: a superset of what the mixture drew when ``eval_fraction`` held some out or the mixture
subsampled, so the check may over-report, never under-report. A reader that lives outside
:mod:`codeeval.data` (the trainer's ``mined``: functions mined from the Python stdlib or the JDK's
``src.zip``) is found through the ``codeeval.readers`` entry points its distribution declares
(codeeval-trainer declares ``mined``), loaded only when a recorded source names it; where no
installed distribution declares it (a machine with the core and no trainer) that source is reported
unavailable, saying so, and the check's state is unknown unless something else matched. A mined
source is re-mined from the recorded path on this machine: the same stdlib and JDK as the trainer's
give the same functions. ``strip_docstring`` is not applied (the
texts compared keep their docstrings: again a superset). A Hugging Face hub dataset is read only
when asked (``hub=True``), never as a side effect of a bench. ``${datasets}`` is expanded with this
machine's datasets folder: the trainer records the path as written, not a hash of the data.

Cost: one small JSON read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal

from codeeval.contamination.check import TrainingSource
from codeeval.data import Reader, Source, get_reader
from codeeval.data.errors import SourceError
from codeeval.kit.errors import NotFound
from codeeval.kit.paths import expand

METADATA_FILE = "codeeval_adapter.json"
#: Where the trainer's relative source paths live (found without importing the trainer).
TRAINER_CONFIGS = "${package:codeeval.trainer}/configs"
#: Entry-point group of data-layer readers registered outside codeeval.data (the trainer's ``mined``).
READER_GROUP = "codeeval.readers"


@dataclass(frozen=True)
class MixtureEntry:
    """One task of a training mixture: examples available, drawn per epoch (effective) and share."""

    task: str
    available: int
    effective: int
    proportion: float


@dataclass(frozen=True)
class Provenance:
    """What produced an adapter, as its metadata records it (None: not recorded)."""

    status: Literal["known", "unknown"]
    path: str
    reason: str = ""
    kind: str | None = None
    method: str | None = None
    base_model: str | None = None
    base_model_sha256: str | None = None
    template: str | None = None
    template_sha256: str | None = None
    template_rendered_sha256: str | None = None
    task_prompts: dict[str, Any] = field(default_factory=dict)
    mixture: list[MixtureEntry] = field(default_factory=list)
    mixing: dict[str, Any] | None = None
    seed: int | None = None
    data_sha256: dict[str, str] | None = None
    cost: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    steps: int | None = None
    outcome: str | None = None
    versions: dict[str, str] | None = None
    config: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _opt(meta: dict[str, Any], key: str, kind: type) -> Any:
    value = meta.get(key)
    return value if isinstance(value, kind) else None


def read_provenance(adapter: Path) -> Provenance:
    """The typed metadata of the adapter folder ``adapter`` (see the module docstring)."""
    if not adapter.is_dir():
        raise NotFound(f"{adapter} is not an adapter folder", field="adapter")
    meta_path = adapter / METADATA_FILE
    if not meta_path.is_file():
        return Provenance("unknown", str(adapter), f"provenance unknown: {adapter} has no {METADATA_FILE} "
                          "(not written by the codeeval trainer)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return Provenance("unknown", str(adapter), f"provenance unknown: {meta_path} is not JSON: {exc}")
    if not isinstance(meta, dict):
        return Provenance("unknown", str(adapter), f"provenance unknown: {meta_path} is not a JSON object")
    try:
        mixture = [MixtureEntry(str(m["task"]), int(m["available"]), int(m["effective"]), float(m["proportion"]))
                   for m in meta.get("mixture") or []]
    except (TypeError, ValueError, KeyError) as exc:
        return Provenance("unknown", str(adapter), f"provenance unknown: {meta_path}: mixture is not a list of "
                          f"task/available/effective/proportion records ({type(exc).__name__}: {exc})")
    config = _opt(meta, "config", dict)
    data = (config or {}).get("data")
    data = data if isinstance(data, dict) else {}
    hashes = meta.get("data_sha256")
    return Provenance(
        "known", str(adapter), kind=_opt(meta, "kind", str), method=_opt(meta, "method", str),
        base_model=_opt(meta, "base_model", str), base_model_sha256=_opt(meta, "base_model_sha256", str),
        template=_opt(meta, "template", str), template_sha256=_opt(meta, "template_sha256", str),
        template_rendered_sha256=_opt(meta, "template_rendered_sha256", str),
        task_prompts=_opt(meta, "task_prompts", dict) or {}, mixture=mixture,
        mixing=data.get("mixing") if isinstance(data.get("mixing"), dict) else None,
        seed=_opt(meta, "seed", int), data_sha256=dict(hashes) if isinstance(hashes, dict) else None,
        cost=_opt(meta, "cost", dict), metrics=_opt(meta, "metrics", dict), steps=_opt(meta, "steps", int),
        outcome=_opt(meta, "outcome", str), versions=_opt(meta, "versions", dict), config=config)


def _reader(name: str) -> Reader:
    """The data-layer reader ``name``, loading the ``codeeval.readers`` entry point of that name when
    it is not registered yet (importing its module registers it). SourceError naming the group when
    no installed distribution declares it; ImportError when its module does not import."""
    try:
        return get_reader(name)
    except SourceError as exc:
        plugins = list(entry_points(group=READER_GROUP, name=name))
        if not plugins:
            raise SourceError(f"{exc}: no installed distribution declares it as a {READER_GROUP} entry point "
                              "(the trainer's 'mined' comes with codeeval-trainer), so its data cannot be read "
                              "here", key="reader") from None
    for plugin in plugins:
        plugin.load()
    return get_reader(name)


def _source(task: str, spec: dict[str, Any], hub: bool) -> TrainingSource:
    """One recorded source spec as the trainer reads it (see the module docstring for the limits)."""
    reader = str(spec.get("reader", ""))
    label = f"{task} ({reader})"
    if not reader:
        return TrainingSource(label, unavailable="the recorded source names no reader")
    try:
        info = _reader(reader)
    except (SourceError, ImportError) as exc:
        return TrainingSource(label, unavailable=str(exc))
    options: dict[str, Any] = {"direction": spec.get("direction", "java-cs"), "split": spec.get("split", "train")}
    for key, kind in (("fields", dict), ("target", str), ("hf_name", str), ("hf_config", str)):
        if spec.get(key):
            if not isinstance(spec[key], kind):
                return TrainingSource(label, unavailable=f"the recorded source's {key} is not a {kind.__name__}")
            options[key] = spec[key]
    raw_path = str(spec.get("path") or "")
    path = expand(raw_path, base_dir=expand(TRAINER_CONFIGS)) if raw_path else None
    if info.needs_path and path is None:
        return TrainingSource(label, unavailable="the recorded source has no path")
    if path is None and not hub:
        return TrainingSource(label, unavailable=f"hub dataset {spec.get('hf_name')!r} not read (it may download "
                              "gigabytes; allow it with hub=True, `codeeval contamination --hub`)")
    limit = spec.get("limit")
    return TrainingSource(label, Source(reader=reader, path=path, language=str(spec.get("language", "python")),
                                        options=options), limit=limit if isinstance(limit, int) else None)


def training_sources(provenance: Provenance, hub: bool = False) -> list[TrainingSource]:
    """The training sources the adapter's config records (empty when the provenance is unknown or
    the config records no tasks). A Hugging Face hub dataset (no local path) is read only with
    ``hub``: otherwise it is reported unavailable, so a bench never starts a large download."""
    if provenance.status != "known" or not provenance.config:
        return []
    data = provenance.config.get("data")
    tasks = data.get("tasks") if isinstance(data, dict) else None
    if not isinstance(tasks, list):
        return []
    return [_source(str(t.get("name", f"task{i}")), t["source"] if isinstance(t.get("source"), dict) else {}, hub)
            for i, t in enumerate(tasks) if isinstance(t, dict)]


@dataclass(frozen=True)
class MixtureDelta:
    """One task in two mixtures (None: absent from that adapter's mixture)."""

    task: str
    a_effective: int | None
    b_effective: int | None
    a_proportion: float | None
    b_proportion: float | None

    @property
    def proportion_change(self) -> float:
        return (self.b_proportion or 0.0) - (self.a_proportion or 0.0)


def mixture_diff(a: Provenance, b: Provenance) -> list[MixtureDelta] | None:
    """Per task (a's order, then tasks only b has) the effective counts and shares of both adapters;
    None when either provenance is unknown (no difference is claimed without both mixtures)."""
    if a.status != "known" or b.status != "known":
        return None
    ma = {m.task: m for m in a.mixture}
    mb = {m.task: m for m in b.mixture}
    order = list(ma) + [t for t in mb if t not in ma]
    return [MixtureDelta(t, ma[t].effective if t in ma else None, mb[t].effective if t in mb else None,
                         ma[t].proportion if t in ma else None, mb[t].proportion if t in mb else None)
            for t in order]
