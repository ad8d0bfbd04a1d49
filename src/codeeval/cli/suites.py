"""``codeeval suites`` (list the shipped suites), ``suites validate`` and ``suites power``.

Exit codes: 0 ok; 2 a suite does not validate, its data cannot be read, or a bad argument (every
problem is printed with its key or flag).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("suites", help="list the shipped benchmark suites; `suites validate` checks suites")
    ssub = p.add_subparsers(dest="suites_command", metavar="SUBCOMMAND")
    v = ssub.add_parser("validate", help="validate suites (names, keys, readers, prompts, data) with did-you-mean")
    v.add_argument("suites", nargs="*", metavar="SUITE", help="names or YAML paths; default: every shipped suite")
    v.add_argument("--no-data", action="store_true", help="skip reading the datasets")
    v.set_defaults(func=_validate)
    w = ssub.add_parser("power", help="the smallest drop each gated metric can detect; which tasks can gate")
    w.add_argument("suite", metavar="SUITE", help="name or YAML path")
    w.add_argument("--baseline", type=Path, metavar="RUN",
                   help="a bench run (a variant folder, or an output folder with several variants): its pass "
                        "rates, spreads and the discordance between its variants replace the worst case")
    w.add_argument("--confidence", type=float, default=0.95,
                   help="one-sided confidence before the Bonferroni adjustment (default 0.95)")
    w.add_argument("--max-drop", action="append", default=[], metavar="METRIC=DROP",
                   help="gate METRIC with margin DROP (repeatable); default: pass@1, compile, codebleu and chrf "
                        "at 0.02")
    w.add_argument("--target-drop", type=float, default=0.10,
                   help="a metric gates when it detects this drop with 80%% power (default 0.10: 10 points)")
    w.add_argument("--json", action="store_true", help="print JSON instead of a table")
    w.set_defaults(func=_power)
    p.set_defaults(func=_list_suites)


def _list_suites(args: argparse.Namespace) -> int:
    from codeeval.suites import SuiteError, list_suites, load_suite

    table = Table("suite", "version", "tasks", "description")
    for name in list_suites():
        try:
            s = load_suite(name).suite
        except SuiteError as exc:
            table.add_row(name, "-", "-", f"[red]invalid:[/] {exc}")
            continue
        table.add_row(name, s.version, ", ".join(t.name for t in s.tasks), s.description)
    Console().print(table)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from codeeval.suites import SuiteError, list_suites, load_suite, validate_suite

    console = Console()
    failed = 0
    for name in args.suites or list(list_suites()):
        try:
            problems = validate_suite(load_suite(name), check_data=not args.no_data)
        except SuiteError as exc:
            problems = [str(exc)]
        if problems:
            failed += 1
            console.print(f"[red]{name}: invalid[/]")
            for line in (ln for p in problems for ln in p.splitlines()):
                console.print(f"  {line}", markup=False, highlight=False)
        else:
            console.print(f"[green]{name}: ok[/]")
    return 2 if failed else 0


def _power(args: argparse.Namespace) -> int:
    from codeeval.stats import power
    from codeeval.stats.gate import DEFAULT_MARGIN, parse_max_drop

    err = Console(stderr=True, soft_wrap=True)
    try:
        if not 0.5 < args.confidence < 1.0:
            raise ValueError(f"--confidence must be in (0.5, 1), got {args.confidence}")
        if not 0.0 < args.target_drop < 1.0:
            raise ValueError(f"--target-drop must be in (0, 1), got {args.target_drop}")
        margins = parse_max_drop(args.max_drop)
        specs = _metric_specs(args.suite, margins, DEFAULT_MARGIN)
        spreads = power.spreads_from_results(_baseline_runs(args.baseline)) if args.baseline else {}
    except (ValueError, OSError) as exc:  # SuiteError, data and results errors are ValueError/OSError
        err.print(f"[red]error:[/] {exc}", highlight=False)
        return 2
    rows = power.plan(specs, spreads, alpha=1.0 - args.confidence, target=args.target_drop)
    warnings = power.never_fire(rows)
    gating = sum(r.gating for r in rows)
    if not gating:
        warnings.append(f"no metric of {args.suite} can detect a {args.target_drop:g} drop: the gate can never "
                        "say REGRESSION on it (more items, or --baseline with measured spreads, may change that)")
    if args.json:
        doc = {"suite": args.suite, "confidence": args.confidence, "target_drop": args.target_drop,
               "power": power.POWER, "gating_metrics": gating, "warnings": warnings,
               "rows": [{k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in asdict(r).items()}
                        for r in rows]}
        json.dump(doc, sys.stdout, indent=2)
        print()
        return 0
    _print_power(args, rows, gating)
    for w in warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False)
    return 0


def _metric_specs(suite: str, margins: dict[str, float], default_margin: float) -> list[Any]:
    from codeeval.stats.power import MetricSpec, gated_metrics, metric_kind
    from codeeval.suites import load_suite, read_items

    loaded = load_suite(suite)
    specs = []
    for task in loaded.suite.tasks:
        chosen = gated_metrics(task.metrics, margins, default_margin=default_margin)
        if not chosen:
            continue
        items = len(read_items(task, loaded.base_dir))
        specs += [MetricSpec(task.name, m, metric_kind(m, task.generation.n), items, margin)
                  for m, margin in chosen.items()]
    if margins and not specs:
        raise ValueError(f"--max-drop: no task of {suite} has any of the metrics {', '.join(margins)}")
    return specs


def _baseline_runs(path: Path) -> list[dict[str, Any]]:
    """results.json of a variant folder, or of every variant of a bench output folder (today's format)."""
    from codeeval.pipeline.comparison import load_results

    variants = sorted(p for p in path.iterdir() if (p / "results.json").is_file()) if path.is_dir() else []
    if variants and not (path / "results.json").is_file():
        return [load_results(v) for v in variants]
    return [load_results(path)]


def _print_power(args: argparse.Namespace, rows: list[Any], gating: int) -> None:
    console = Console() if sys.stdout.isatty() else Console(width=200)
    # "never": no outcome gives REGRESSION; "out of reach": no drop the metric can have is caught 80% of the time
    table = Table("task", "items", "metric", "max drop", "detectable drop (80% power)", "at confidence", "gate",
                  "assumption", title=f"{args.suite}: {gating} of {len(rows)} metrics can detect a "
                                      f"{args.target_drop:g} drop at {args.confidence:g} confidence (one-sided, "
                                      "Bonferroni over the gating metrics)")
    for r in rows:
        drop = ("never" if not r.can_fire else "out of reach" if math.isinf(r.detectable_drop)
                else f"{r.detectable_drop:.3f}")
        table.add_row(r.task, str(r.items), r.metric, f"{r.margin:g}", drop, f"{r.confidence:.4f}",
                      "gating" if r.gating else "not gating", r.assumption, style=None if r.gating else "dim")
    console.print(table)
