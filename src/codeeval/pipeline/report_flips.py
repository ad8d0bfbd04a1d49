"""The items that flipped between two sides of a comparison, with both sides' code, outcome and stderr.

Per task, over the items both sides scored: pass/fail tasks list the items whose pass rate changed
(pass->fail first, largest drops first, then fail->pass); compile-only tasks the items whose compile
result changed; tasks with reference metrics the largest drops of each metric. Each side shows one
sample of the item (one with the outcome that changed), its extracted program (or summary), outcome
and the tail of its stderr or compiler output, read from the variant folder's stage files
(``extractions.jsonl``, ``programs.jsonl``, ``executions.jsonl``) through the ``[sample, OUTCOME]``
pointers of ``results.json``. Reference metrics: the task's gated ones (:data:`~codeeval.stats.power.DEFAULT_GATED`),
else its first. Bounded: :data:`TOP` items per task and list, code cut at
:data:`CODE_LINES` lines and stderr at :data:`STDERR_LINES` lines, each cut said in the text.
Cost: one read of each side's stage files (:func:`stage_files`; the caller keeps them per folder).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeeval.pipeline.store import RunDir
from codeeval.records import Execution, Extraction, Program
from codeeval.stats.power import DEFAULT_GATED

TOP = 20
CODE_LINES = 40
STDERR_LINES = 12
LINE_CHARS = 160


@dataclass(frozen=True)
class Side:
    """One side of a flipped item: what the report shows of it."""

    value: str  # "pass 1/1", "compiled 0/1", "chrf 0.812"
    outcome: str
    code: str
    stderr: str


@dataclass(frozen=True)
class Flip:
    task: str
    item: str
    change: str  # "pass->fail", "fail->pass", "compiles->fails", "chrf -0.31"
    delta: float  # b - a on the 0-1 scale (negative: a drop)
    a: Side
    b: Side


@dataclass(frozen=True)
class StageFiles:
    """A variant folder's stage records by sample and program key (empty when the folder has none)."""

    extractions: dict[tuple[str, str, int], Extraction]
    programs: dict[str, Program]
    executions: dict[str, Execution]


def stage_files(path: Path | None) -> StageFiles:
    """The stage records of a variant folder; empty for None or a folder without them."""
    if path is None or not (path / "extractions.jsonl").is_file():
        return StageFiles({}, {}, {})
    run = RunDir(path)
    return StageFiles({e.sample_key: e for e in run.extractions()}, run.programs(), run.executions())


def clip(text: str, lines: int, *, tail: bool = False) -> str:
    """At most ``lines`` lines of ``LINE_CHARS`` characters (the last ones with ``tail``), the cut said."""
    rows = [r if len(r) <= LINE_CHARS else r[:LINE_CHARS] + "…" for r in text.rstrip("\n").splitlines()]
    if len(rows) <= lines:
        return "\n".join(rows)
    cut = len(rows) - lines
    if tail:
        return "\n".join([f"[{cut} earlier lines not shown]", *rows[-lines:]])
    return "\n".join([*rows[:lines], f"[{cut} more lines not shown]"])


def _side(files: StageFiles, task: str, item: str, sample: int | None, value: str, outcome: str) -> Side:
    e = files.extractions.get((task, item, sample)) if sample is not None else None
    if e is None:  # no stage files beside results.json, or no per-sample outcomes in it: said once per pair
        return Side(value, outcome, "", "")
    prog = files.programs.get(e.key) if e.key else None
    code = prog.source if prog is not None else e.answer
    ex = files.executions.get(e.key) if e.key else None
    err = "" if ex is None else (ex.stderr or ex.compile_output or ex.detail)
    return Side(value, outcome, clip(code, CODE_LINES) if code else "(no code in the answer)",
                clip(err, STDERR_LINES, tail=True))


def natural(item: str) -> list[Any]:
    """Sort key that puts ``s2`` before ``s10`` (numbers compared as numbers)."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", item)]


NOT_COMPILED = ("COMPILE_ERROR", "NO_CODE")


def _pick(inst: Mapping[str, Any], want: bool | None, key: str = "passed") -> tuple[int | None, str]:
    """A sample of the item that passed (``key`` "passed") or compiled (``key`` "compiled") when ``want``,
    that did not when not ``want``, else the first one."""
    pairs = [(int(s), str(o)) for s, o in inst.get("outcomes") or []]
    for s, o in pairs:
        good = o == "PASSED" if key == "passed" else o not in NOT_COMPILED
        if want is None or good == want:
            return s, o
    return (pairs[0] if pairs else (None, "-"))


def _rate(inst: Mapping[str, Any], key: str) -> float | None:
    if key == "passed":
        return float(inst.get("c") or 0) / inst["n"] if inst.get("n") else None
    vals = inst.get(key) or []
    return sum(map(bool, vals)) / len(vals) if vals else None


def _binary_flips(task: str, ia: Mapping[str, Any], ib: Mapping[str, Any], fa: StageFiles, fb: StageFiles,
                  key: str) -> list[Flip]:
    words = ("pass", "fail") if key == "passed" else ("compiles", "fails")
    out = []
    for item in sorted(set(ia) & set(ib)):
        ra, rb = _rate(ia[item], key), _rate(ib[item], key)
        if ra is None or rb is None or ra == rb:
            continue
        drop = rb < ra
        n_a, n_b = len(ia[item].get(key) or []), len(ib[item].get(key) or [])
        sa, oa = _pick(ia[item], drop, key)
        sb, ob = _pick(ib[item], not drop, key)
        change = f"{words[0]}->{words[1]}" if drop else f"{words[1]}->{words[0]}"
        out.append(Flip(task, item, change, rb - ra,
                        _side(fa, task, item, sa, f"{words[0]} {round(ra * n_a)}/{n_a}", oa),
                        _side(fb, task, item, sb, f"{words[0]} {round(rb * n_b)}/{n_b}", ob)))
    return sorted(out, key=lambda f: (f.delta > 0, -abs(f.delta), natural(f.item)))


def _metric_drops(task: str, metric: str, ia: Mapping[str, Any], ib: Mapping[str, Any], fa: StageFiles,
                  fb: StageFiles) -> list[Flip]:
    out = []
    for item in sorted(set(ia) & set(ib)):
        va, vb = (ia[item].get("metrics") or {}).get(metric), (ib[item].get("metrics") or {}).get(metric)
        if va is None or vb is None or vb >= va:
            continue
        sa, oa = _pick(ia[item], None) if ia[item].get("outcomes") else (0, "-")
        sb, ob = _pick(ib[item], None) if ib[item].get("outcomes") else (0, "-")
        out.append(Flip(task, item, f"{metric} {vb - va:+.3f}", vb - va,
                        _side(fa, task, item, sa, f"{metric} {va:.3f}", oa),
                        _side(fb, task, item, sb, f"{metric} {vb:.3f}", ob)))
    return sorted(out, key=lambda f: (f.delta, natural(f.item)))


def _any(instances: Mapping[str, Mapping[str, Any]], key: str) -> bool:
    return any(inst.get(key) for inst in instances.values())


@dataclass(frozen=True)
class TaskFlips:
    task: str
    kind: str  # "pass/fail", "compile" or the metric name
    shown: list[Flip]
    total: int


def flips(a: Mapping[str, Any], b: Mapping[str, Any], fa: StageFiles, fb: StageFiles, *, top: int = TOP
          ) -> list[TaskFlips]:
    """Per task (and per shown metric) the flipped items of ``b`` against ``a``, at most ``top`` shown."""
    out = []
    for task in [t for t in a["tasks"] if t in b["tasks"]]:
        ta, tb = a["tasks"][task], b["tasks"][task]
        ia, ib = ta.get("instances", {}), tb.get("instances", {})
        lists: list[tuple[str, list[Flip]]] = []
        if ("pass_at_k" in ta and "pass_at_k" in tb) or _any(ia, "n") and _any(ib, "n") and "compile" not in ta:
            lists.append(("pass/fail", _binary_flips(task, ia, ib, fa, fb, "passed")))
        elif _any(ia, "compiled") and _any(ib, "compiled"):
            lists.append(("compile", _binary_flips(task, ia, ib, fa, fb, "compiled")))
        names_b = {m for inst in ib.values() for m in inst.get("metrics") or {}}
        shared = list(dict.fromkeys(m for inst in ia.values() for m in inst.get("metrics") or {} if m in names_b))
        for metric in [m for m in shared if m in DEFAULT_GATED] or shared[:1]:
            lists.append((metric, _metric_drops(task, metric, ia, ib, fa, fb)))
        out += [TaskFlips(task, kind, found[:top], len(found)) for kind, found in lists]
    return out
