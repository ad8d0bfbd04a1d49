"""The ``hf`` reader: a Hugging Face ``datasets`` dataset, for suites and for the trainer.

Where the records come from (the first that applies):

- option ``hf_name``: a dataset on the Hugging Face hub (``hf_config``, ``split``; streamed, so only
  the records read are downloaded; needs the network or the local hub cache);
- the source ``path``: a folder written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``
  (``split`` picks one of a DatasetDict), a data file (``.json``, ``.jsonl``, ``.csv``,
  ``.parquet``, ``.arrow``, ``.txt``, optionally ``.gz``), or a folder of data files (read by
  ``datasets.load_dataset``).

The mapping from columns to an :class:`~codeeval.data.Item`:

- ``fields`` (required): task-prompt field -> column (``{prompt: prompt}``);
- ``target``: the column of the reference (the training target; optional for suites);
- ``columns``: further item attributes -> column, any of ``id``, ``reference``, ``test``,
  ``entry_point``, ``prompt_code``, ``function``, ``source`` (``{id: task_id, test: test}``).

A list value (MBPP's ``test_list``) becomes its elements joined by newlines; ``None`` becomes ''.
Ids: the ``id`` column, else ``<split>-<index>``. A column the mapping names that the dataset lacks
is a :class:`DataError` (key ``fields`` or ``columns``) naming it and the columns there are; an
unknown attribute in ``columns`` a :class:`SourceError`. Cost: ``import datasets`` (about a second)
and, for local files, one Arrow conversion into the ``datasets`` cache (reused while the file is
unchanged); then one pass over the records.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from codeeval.data.errors import DataError, DataNotFound, SourceError
from codeeval.data.records import Item, Source
from codeeval.data.registry import register
from codeeval.kit.names import did_you_mean

#: Item attributes a ``columns`` mapping may fill (besides the prompt ``fields``).
ATTRIBUTES = ("id", "reference", "test", "entry_point", "prompt_code", "function", "source")
#: Data-file suffix -> ``datasets`` builder.
BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet", ".arrow": "arrow",
            ".txt": "text"}


def _builder(path: Path) -> str:
    suffixes = [s for s in path.suffixes if s != ".gz"]
    builder = BUILDERS.get(suffixes[-1].lower() if suffixes else "")
    if builder is None:
        raise SourceError(f"{path}: the hf reader reads {', '.join(BUILDERS)} files (optionally .gz) or a "
                          "folder saved by Dataset.save_to_disk", key="path")
    return builder


def _from_disk(path: Path, split: str, explicit_split: bool) -> Any:
    import datasets

    ds = datasets.load_from_disk(str(path))
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise DataError(f"{path}: no split {split!r}{did_you_mean(split, list(ds))} (splits: "
                            f"{', '.join(ds)})", key="split")
        return ds[split]
    if explicit_split and ds.split is not None and str(ds.split) != split:
        raise DataError(f"{path}: the saved dataset is split {str(ds.split)!r}, not {split!r}", key="split")
    return ds


def load_records(source: Source) -> tuple[Iterable[Mapping[str, Any]], str, str]:
    """The records of the source, the split read, and a name for messages (hub id or path).

    Raises DataNotFound for a missing path, SourceError for neither ``hf_name`` nor a path or an
    unknown file type, DataError (key ``hf_name``) when the hub dataset cannot be loaded."""
    options = source.options
    explicit = bool(options.get("split"))
    split = str(options.get("split") or "train")
    name = str(options.get("hf_name") or "")
    try:
        import datasets
    except ImportError as exc:  # a broken install: the core distribution declares it
        raise DataError(f"the hf reader needs the `datasets` package: {exc}", key="reader") from None
    if name:
        try:
            ds = datasets.load_dataset(name, options.get("hf_config"), split=split, streaming=True)
        except Exception as exc:  # noqa: BLE001 - no hub, an unknown name or config: all reported as such
            raise DataError(f"cannot load HF dataset {name!r}: {type(exc).__name__}: {exc}"[:500],
                            key="hf_name") from None
        return ds, split, name
    if source.path is None or str(source.path) in ("", "."):
        raise SourceError("the hf reader needs option 'hf_name' (a hub dataset) or a path (a data file or a "
                          "saved dataset folder)", key="hf_name")
    path = Path(source.path)
    if not path.exists():
        raise DataNotFound(f"{path} does not exist")
    try:
        if path.is_dir() and any((path / f).is_file() for f in ("dataset_dict.json", "dataset_info.json",
                                                                   "state.json")):
            return _from_disk(path, split, explicit), split, str(path)
        if path.is_dir():
            return datasets.load_dataset(str(path), options.get("hf_config"), split=split), split, str(path)
        data_files = {split: str(path)}
        return datasets.load_dataset(_builder(path), data_files=data_files, split=split), split, str(path)
    except (SourceError, DataError):
        raise
    except Exception as exc:  # noqa: BLE001 - datasets raises many types for unreadable files
        raise DataError(f"{path}: cannot read as a Hugging Face dataset: {type(exc).__name__}: {exc}"[:500]) from None


def _value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "\n".join(_value(v) for v in value)
    return str(value)


def _mapping(source: Source) -> tuple[dict[str, str], dict[str, str]]:
    """(fields, columns) of the options, ``target`` folded into ``columns['reference']``."""
    fields = source.options.get("fields")
    if not isinstance(fields, Mapping) or not fields:
        raise SourceError("the hf reader needs option 'fields' (task-prompt field -> column)", key="fields")
    columns = source.options.get("columns") or {}
    if not isinstance(columns, Mapping):
        raise SourceError("option 'columns' must map item attributes to columns", key="columns")
    for attr in columns:
        if attr not in ATTRIBUTES:
            raise SourceError(f"columns: unknown item attribute {attr!r}{did_you_mean(str(attr), ATTRIBUTES)} "
                              f"(known: {', '.join(ATTRIBUTES)})", key="columns")
    cols = {str(k): str(v) for k, v in columns.items()}
    if source.options.get("target"):
        cols.setdefault("reference", str(source.options["target"]))
    return {str(k): str(v) for k, v in fields.items()}, cols


def _check_columns(rec: Mapping[str, Any], fields: dict[str, str], columns: dict[str, str], where: str) -> None:
    for key, mapping in (("fields", fields), ("columns", columns)):
        missing = [c for c in mapping.values() if c not in rec]
        if missing:
            raise DataError(f"{where}: no column {missing[0]!r} (columns: {', '.join(sorted(rec))})", key=key)


@register("hf", needs_path=False, options=("fields",))
def read_hf(source: Source) -> Iterator[Item]:
    """A Hugging Face dataset (hub name, saved folder or data file) with a column mapping."""
    fields, columns = _mapping(source)
    records, split, name = load_records(source)
    for i, rec in enumerate(records):
        if i == 0:
            _check_columns(rec, fields, columns, name)
        values = {attr: _value(rec.get(col)) for attr, col in columns.items()}
        yield Item(id=values.get("id") or f"{split}-{i}", fields={f: _value(rec.get(c)) for f, c in fields.items()},
                   reference=values.get("reference", ""), test=values.get("test", ""),
                   entry_point=values.get("entry_point", ""), prompt_code=values.get("prompt_code", ""),
                   function=values.get("function", ""), source=values.get("source", ""))
