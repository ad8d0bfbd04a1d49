"""codeeval.data: the typed data layer under suites, bench, the CLI and the trainer.

Contract (it imports only :mod:`codeeval.kit`, never suites, bench, cli, stats or a service):

- :class:`Source` says what to read: a registered reader name, an expanded path
  (:func:`codeeval.kit.paths.expand` does ``${datasets}``), the languages and the reader's options;
- every reader yields :class:`Item` records (one benchmark instance: prompt fields, reference, test,
  entry point...); a training :class:`Example` is ``Example.from_item(item, task)``, so the same
  file read through the registry gives the same data to bench and trainer;
- :func:`iter_items` / :func:`read_items` are the one way to read: unknown reader names get a
  did-you-mean, missing files a :class:`DataNotFound` naming them, malformed data a
  :class:`DataError` naming file and record (both are :mod:`codeeval.kit.errors` exceptions and
  ``OSError``/``ValueError``), ``options.exclude_ids_file`` drops ids, a repeated id is an error;
- :func:`read_records` / :func:`write_records` are the one JSONL (``.gz``, JSON array) helper;
- :func:`benchmark_source` tells an executable benchmark file's format (HumanEval, HumanEval-X,
  MBPP original or sanitized) from its first record, for ``codeeval exec``.

Readers: ``humaneval``, ``humaneval_x``, ``mbpp`` (original and sanitized), ``codereval_prompts``,
``codeeval_yaml`` (:mod:`codeeval.data.benchmarks`); ``codexglue_translation``, ``concode``,
``study_summarization``, ``jsonl`` (:mod:`codeeval.data.corpora`); ``hf`` (:mod:`codeeval.data.hf`:
hub names, saved datasets and data files, for suites and the trainer). The trainer registers ``mined``.
Cost: each reader makes one pass over its file.
"""

from __future__ import annotations

from codeeval.data import benchmarks, corpora, hf  # noqa: F401 - registers the built-in readers
from codeeval.data.benchmarks import benchmark_source
from codeeval.data.errors import DataError, DataNotFound, SourceError
from codeeval.data.jsonl import iter_lines, read_records, write_records
from codeeval.data.records import Example, Item, Source
from codeeval.data.registry import (
    READERS,
    Reader,
    check,
    get_reader,
    iter_items,
    read_items,
    reader_names,
    register,
    required_files,
)

__all__ = ["READERS", "DataError", "DataNotFound", "Example", "Item", "Reader", "Source", "SourceError",
           "benchmark_source", "check", "get_reader", "iter_items", "iter_lines", "read_items", "read_records",
           "reader_names", "register", "required_files", "write_records"]
