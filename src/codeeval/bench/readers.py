"""Compatibility names for the bench: items and readers now live in :mod:`codeeval.data` and a
suite task is read by :func:`codeeval.suites.read_items`. New code imports those directly."""

from __future__ import annotations

from codeeval.data import READERS, Item
from codeeval.suites import read_items

__all__ = ["READERS", "Item", "read_items"]
