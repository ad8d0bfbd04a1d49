"""The project's own Java<->C# training pairs (trainer configs/data/java_cs_pairs.jsonl): enough of
them, kept apart from every suite item (no pair equals or contains an item's code or reference, or
reuses one of its method names), and real code (javac and mcs compile every pair, slow)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

import codeeval.suites
from codeeval.trainer.recipe_schema import configs_dir

PAIRS = configs_dir() / "data" / "java_cs_pairs.jsonl"
SUITES = Path(codeeval.suites.__file__).parent / "data"
METHOD = re.compile(r"\b(?:static|public|private|protected)\s+[\w<>\[\], .?]+\s+(\w+)\s*\(")


def _pairs() -> list[dict[str, str]]:
    return [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]


def _suite_texts() -> list[tuple[str, str]]:
    """(item id, text) of every code-like field of every item the shipped suites carry in-tree."""
    out: list[tuple[str, str]] = []
    for path in sorted(SUITES.rglob("*.yaml")):
        data: Any = yaml.safe_load(path.read_text())
        if not isinstance(data, list):
            continue
        for item in data:
            for key in ("code", "reference", "prompt", "test"):
                if isinstance(item.get(key), str) and item[key].strip():
                    out.append((f"{path.name}:{item.get('id')}.{key}", item[key]))
    return out


def _norm(text: str) -> str:
    return " ".join(text.split())


def test_pairs_are_many_enough_unique_and_complete() -> None:
    pairs = _pairs()
    assert 40 <= len(pairs) <= 80
    assert len({p["id"] for p in pairs}) == len(pairs)
    assert len({_norm(p["java"]) for p in pairs}) == len(pairs)
    assert all(p["java"].strip() and p["cs"].strip() for p in pairs)


def test_no_pair_overlaps_a_suite_item() -> None:
    items = _suite_texts()
    assert len(items) > 20, "the suites' items were not found"
    item_names = {name.lower() for _, text in items for name in METHOD.findall(text)} - {"main", "check"}
    for pair in _pairs():
        for side in ("java", "cs"):
            text = _norm(pair[side])
            for item_id, item in items:
                ref = _norm(item)
                assert ref not in text and text not in ref, f"pair {pair['id']} ({side}) overlaps {item_id}"
            shared = {n.lower() for n in METHOD.findall(pair[side])} & item_names
            assert not shared, f"pair {pair['id']} ({side}) reuses suite method name(s) {sorted(shared)}"


def _wrap_java(i: int, code: str) -> str:
    return f"import java.util.*;\npublic class Pair{i} {{\n{code}\n}}\n"


def _wrap_cs(i: int, code: str) -> str:
    body = f"public static class Pair{i}\n{{\n{code}\n}}" if code.startswith("public static") else code
    return f"using System;\nusing System.Collections.Generic;\nusing System.Text;\nnamespace Pairs{i}\n{{\n{body}\n}}\n"


@pytest.mark.slow
def test_every_pair_compiles_in_both_languages(tmp_path: Path) -> None:
    javac, mcs = shutil.which("javac"), shutil.which("mcs")
    if javac is None or mcs is None:
        pytest.skip("javac or mcs not installed (bash scripts/install-system-deps.sh)")
    java_dir, cs_dir = tmp_path / "java", tmp_path / "cs"
    java_dir.mkdir()
    cs_dir.mkdir()
    for i, pair in enumerate(_pairs()):
        (java_dir / f"Pair{i}.java").write_text(_wrap_java(i, pair["java"]))
        (cs_dir / f"Pair{i}.cs").write_text(_wrap_cs(i, pair["cs"]))
    out = subprocess.run([javac, "-d", str(tmp_path / "classes"), *map(str, sorted(java_dir.iterdir()))],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    cs_files = [str(p) for p in sorted(cs_dir.iterdir())]
    out = subprocess.run([mcs, "-target:library", f"-out:{tmp_path / 'pairs.dll'}", *cs_files],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
